"""Activations of the actual sources of toxicity before and after DPO, per language (paper §4.3, Figure 3).

Per language and model (base, then DPO), each model greedy-decodes its own `n_tokens` tokens from the language's
prompts; per neuron, the last-position activation is averaged over prompts × steps, and the language's value is the
mean of those per-neuron means over the selected neurons (as the reference's `collect_neuron_activation_gpt2`).

`figure3_rows` gives one row per language (pre, post, diff = pre − post, n_prompts) and one per (language, neuron).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from .adapters import MLPAdapter, Neuron
from .greedy import greedy_generate


def language_activations(model, tokenizer, adapter: MLPAdapter, prompts_by_lang: Mapping[str, list[str]],
                         neurons: Sequence[Neuron], n_tokens: int, batch_size: int, *,
                         prepend_bos: bool) -> dict[str, torch.Tensor]:
    """lang → [n_neurons] mean activation over prompts × greedy steps (all languages decoded in shared batches)."""
    langs = list(prompts_by_lang)
    flat = [(lang, text) for lang in langs for text in prompts_by_lang[lang]]
    if not neurons:
        return {lang: torch.zeros(0) for lang in langs}
    acts = greedy_generate(model, tokenizer, [t for _, t in flat], n_tokens, batch_size, adapter, neurons,
                           prepend_bos=prepend_bos).activations
    out = {}
    for lang in langs:
        idx = torch.tensor([k for k, (l, _) in enumerate(flat) if l == lang])
        out[lang] = acts[idx].mean(dim=(0, 1))
    return out


def group_mean(per_neuron: torch.Tensor) -> float:
    return float(per_neuron.mean()) if per_neuron.numel() else float("nan")


def figure3_rows(per_model: Mapping[str, Mapping[str, torch.Tensor]], neurons: Sequence[Neuron],
                 n_prompts: Mapping[str, int]) -> tuple[list[dict], list[dict]]:
    """Per language: the mean over neurons pre and post DPO; per (language, neuron): each neuron's mean.

    `per_model`: {"pre_dpo": language_activations(base), "post_dpo": language_activations(dpo)}.
    """
    rows, neuron_rows = [], []
    for lang in n_prompts:
        pre, post = group_mean(per_model["pre_dpo"][lang]), group_mean(per_model["post_dpo"][lang])
        rows.append({"lang": lang, "pre_dpo": pre, "post_dpo": post, "diff": pre - post, "n_prompts": n_prompts[lang]})
    for lang in n_prompts:
        for j, (layer, neuron) in enumerate(neurons):
            neuron_rows.append({"lang": lang, "layer": layer, "neuron": neuron,
                                "pre_dpo": float(per_model["pre_dpo"][lang][j]),
                                "post_dpo": float(per_model["post_dpo"][lang][j])})
    return rows, neuron_rows
