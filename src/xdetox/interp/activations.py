"""Activations of the actual sources of toxicity before and after DPO, per language (paper §4.3, Figure 3).

Per language and model (base, then DPO), each model greedy-decodes its own `n_tokens` tokens from the language's
prompts; per neuron, the last-position activation is averaged over prompts × steps, and the language's value is the
mean of those per-neuron means over the selected neurons (as the reference's `collect_neuron_activation_gpt2`).

Outputs: a CSV with one row per language (pre, post, diff = pre − post, n_prompts), a per-neuron CSV, and a PNG
with bars per language (Pre DPO vs Post DPO).
"""

from __future__ import annotations

import csv
import gc
import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from ..io import atomic_open
from ..languages import short_label
from .adapters import MLPAdapter, Neuron, caption_note
from .value_vectors import load_for_interp, mean_activations, prompt_texts, read_value_vectors, selected_neurons

log = logging.getLogger("xdetox.interp")


def language_activations(model, tokenizer, adapter: MLPAdapter, prompts_by_lang: Mapping[str, list[str]],
                         neurons: Sequence[Neuron], n_tokens: int = 20, batch_size: int = 16) -> dict[str, torch.Tensor]:
    """lang → [n_neurons] mean activation over prompts × greedy steps (all languages decoded in shared batches)."""
    langs = list(prompts_by_lang)
    flat = [(lang, text) for lang in langs for text in prompts_by_lang[lang]]
    if not neurons:
        return {lang: torch.zeros(0) for lang in langs}
    from .greedy import greedy_generate

    acts = greedy_generate(model, tokenizer, [t for _, t in flat], n_tokens, batch_size, adapter, neurons).activations
    out = {}
    for lang in langs:
        idx = torch.tensor([k for k, (l, _) in enumerate(flat) if l == lang])
        out[lang] = acts[idx].mean(dim=(0, 1))
    return out


def _group_mean(per_neuron: torch.Tensor) -> float:
    return float(per_neuron.mean()) if per_neuron.numel() else float("nan")


def plot_figure3(rows: list[dict], out_png: str | Path, title: str, note: str = "") -> None:
    from ..report.figures import _plt, finish

    plt = _plt()
    langs = [r["lang"] for r in rows]
    x = np.arange(len(langs))
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(langs) + 2), 4))
    ax.bar(x - 0.2, [r["pre_dpo"] for r in rows], 0.4, label="Pre DPO", color="#d62728")
    ax.bar(x + 0.2, [r["post_dpo"] for r in rows], 0.4, label="Post DPO", color="#1f77b4")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x)
    ax.set_xticklabels([short_label(l) for l in langs])
    ax.set_ylabel("Average Neuron Activation")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    ax.set_title(title, fontsize=9)
    finish(fig, out_png, note)


def figure3_step(base_dir: str, dpo_dir: str, value_vectors_csv: str, prompt_paths: Mapping[str, str], out_csv: str,
                 out_neurons_csv: str, out_png: str, interpret: dict, label: str = "", dtype: str = "float32",
                 family: str | None = None, threads: int | None = None) -> list[dict]:
    neurons = selected_neurons(read_value_vectors(value_vectors_csv))
    prompts = {lang: prompt_texts(path, interpret.get("figures_max_prompts")) for lang, path in prompt_paths.items()}
    per_model = {}
    note = ""
    for stage, path in (("pre_dpo", base_dir), ("post_dpo", dpo_dir)):
        model, tokenizer, adapter = load_for_interp(path, dtype, family, threads)
        note = caption_note(adapter)
        per_model[stage] = language_activations(model, tokenizer, adapter, prompts, neurons, interpret["n_tokens"],
                                                interpret["batch_size"])
        del model, tokenizer, adapter
        gc.collect()
    rows = []
    for lang in prompts:
        pre, post = _group_mean(per_model["pre_dpo"][lang]), _group_mean(per_model["post_dpo"][lang])
        rows.append({"lang": lang, "pre_dpo": pre, "post_dpo": post, "diff": pre - post, "n_prompts": len(prompts[lang])})
    with atomic_open(out_csv) as handle:
        writer = csv.DictWriter(handle, fieldnames=["lang", "pre_dpo", "post_dpo", "diff", "n_prompts"])
        writer.writeheader()
        writer.writerows(rows)
    with atomic_open(out_neurons_csv) as handle:
        writer = csv.DictWriter(handle, fieldnames=["lang", "layer", "neuron", "pre_dpo", "post_dpo"])
        writer.writeheader()
        for lang in prompts:
            for j, (layer, neuron) in enumerate(neurons):
                writer.writerow({"lang": lang, "layer": layer, "neuron": neuron,
                                 "pre_dpo": float(per_model["pre_dpo"][lang][j]),
                                 "post_dpo": float(per_model["post_dpo"][lang][j])})
    who = f"{label}: " if label else ""
    n_prompts = max(len(p) for p in prompts.values())
    plot_figure3(rows, out_png, f"{who}mean activation of the {len(neurons)} actual sources of toxicity over the next "
                 f"{interpret['n_tokens']} greedy tokens (≤{n_prompts} prompts/lang)", note)
    mean = [np.nanmean([r[k] for r in rows]) for k in ("pre_dpo", "post_dpo")]
    log.info("mean over languages: pre-DPO %.4f, post-DPO %.4f", *mean)
    return rows
