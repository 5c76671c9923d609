"""Causal intervention: add an offset γ to chosen neurons' activations (paper §4.2–4.3, Table 5, Figure 2).

As the reference's TransformerLens hook on `mlp_post`, γ is added at every position (prompt tokens included) at every
decoding step; decoding is greedy.

- Table 5: a few short prompts in several languages, continued for 10 tokens with γ = 0 and γ = 5 on a small group
  of neurons (the paper: four hand-picked "sexual" neurons; default here: the first `group_size` actual sources by
  cosine rank, or an explicit `neurons` list).
- Figure 2: average toxicity of greedy continuations (n_tokens) per language and averaged over languages, for a sweep
  of negative offsets on all actual sources; scored with the configured scorer. Distinct-1 of the continuations is
  reported beside it: a large offset can lower "toxicity" simply by breaking the model into repetition.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Mapping, Sequence

from ..io import atomic_open, write_jsonl, write_text
from .adapters import MLPAdapter, Neuron, caption_note
from .greedy import greedy_generate
from .value_vectors import load_for_interp, prompt_texts, read_value_vectors, selected_neurons

log = logging.getLogger("xdetox.interp")


def continue_with_offset(model, tokenizer, adapter: MLPAdapter, texts: Sequence[str], neurons: Sequence[Neuron],
                         offset: float, n_tokens: int, batch_size: int = 16) -> list[str]:
    return _greedy_with_offset(model, tokenizer, adapter, texts, neurons, offset, n_tokens, batch_size).texts


def _greedy_with_offset(model, tokenizer, adapter, texts, neurons, offset, n_tokens, batch_size):
    with adapter.add_offset(neurons, offset):
        return greedy_generate(model, tokenizer, texts, n_tokens, batch_size)


def distinct_1(token_ids: Sequence[int], stop: set[int]) -> float:
    """Distinct tokens / tokens of one continuation (up to end-of-sequence): low values flag degenerate repetition."""
    cut = next((k for k, t in enumerate(token_ids) if t in stop), len(token_ids))
    ids = token_ids[:cut]
    return len(set(ids)) / len(ids) if ids else 0.0


def table5(model, tokenizer, adapter: MLPAdapter, prompts: Mapping[str, str], neurons: Sequence[Neuron],
           offsets: Sequence[float] = (0, 5), max_new_tokens: int = 10) -> list[dict]:
    langs, texts = list(prompts), list(prompts.values())
    rows = []
    for offset in offsets:
        outs = continue_with_offset(model, tokenizer, adapter, texts, neurons, offset, max_new_tokens, len(texts))
        rows += [{"lang": l, "prompt": p, "offset": offset, "continuation": c} for l, p, c in zip(langs, texts, outs)]
    return rows


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "\\n").replace("\r", "\\r")


def table5_markdown(rows: list[dict], neurons: Sequence[Neuron], offsets: Sequence[float], label: str, note: str) -> str:
    by_prompt: dict[tuple[str, str], dict] = {}
    for r in rows:
        by_prompt.setdefault((r["lang"], r["prompt"]), {})[r["offset"]] = r["continuation"]
    who = f"{label}: " if label else ""
    group = ", ".join(f"({l},{n})" for l, n in neurons) or "none"
    lines = [f"# Table 5 analogue — {who}causal intervention", "",
             f"Greedy continuations with an offset γ added to the activations of neurons {group} at every position.", ""]
    if note:
        lines += [note, ""]
    lines += ["| Lang | Prompt | " + " | ".join(f"Generation (γ = {o:g})" for o in offsets) + " |",
              "|---|---|" + "---|" * len(offsets)]
    for (lang, prompt), conts in by_prompt.items():
        lines.append(f"| {lang} | {_md(prompt)} | " + " | ".join(_md(conts[o]) for o in offsets) + " |")
    return "\n".join(lines) + "\n"


def table5_neurons(rows: list[dict], t5: dict) -> list[Neuron]:
    if t5.get("neurons"):
        return [tuple(n) for n in t5["neurons"]]
    return selected_neurons(rows, t5["group_size"])


def table5_step(model_dir: str, value_vectors_csv: str, out_csv: str, out_md: str, interpret: dict, label: str = "",
                dtype: str = "float32", family: str | None = None, threads: int | None = None) -> list[dict]:
    model, tokenizer, adapter = load_for_interp(model_dir, dtype, family, threads)
    t5 = interpret["table5"]
    neurons = adapter.check(table5_neurons(read_value_vectors(value_vectors_csv), t5))
    offsets = [0, t5["offset"]]
    rows = table5(model, tokenizer, adapter, t5["prompts"], neurons, offsets, t5["max_new_tokens"])
    with atomic_open(out_csv) as handle:
        writer = csv.DictWriter(handle, fieldnames=["lang", "prompt", "offset", "continuation"])
        writer.writeheader()
        writer.writerows(rows)
    write_text(out_md, table5_markdown(rows, neurons, offsets, label, caption_note(adapter)))
    return rows


def figure2_sweep(model, tokenizer, adapter: MLPAdapter, prompts_by_lang: Mapping[str, list[str]],
                  neurons: Sequence[Neuron], offsets: Sequence[float], scorer, n_tokens: int = 20,
                  batch_size: int = 16) -> tuple[list[dict], list[dict]]:
    """Average toxicity per (offset, language) plus the per-offset mean over languages; and the generations."""
    from .greedy import eos_ids

    langs = list(prompts_by_lang)
    flat = [(lang, i, text) for lang in langs for i, text in enumerate(prompts_by_lang[lang])]
    stop = eos_ids(model, tokenizer)
    rows, generations = [], []
    for offset in offsets:
        result = _greedy_with_offset(model, tokenizer, adapter, [t for _, _, t in flat], neurons, offset, n_tokens,
                                     batch_size)
        per_lang, per_lang_d1 = [], []
        for lang in langs:
            idx = [k for k, (l, _, _) in enumerate(flat) if l == lang]
            texts = [result.texts[k] for k in idx]
            d1 = [distinct_1(result.token_ids[k], stop) for k in idx]
            tox = [s.toxicity for s in scorer.score(texts, lang)]
            avg, avg_d1 = sum(tox) / len(tox), sum(d1) / len(d1)
            per_lang.append(avg)
            per_lang_d1.append(avg_d1)
            rows.append({"offset": offset, "lang": lang, "avg_toxicity": avg, "distinct_1": avg_d1, "n": len(tox)})
            generations += [{"offset": offset, "lang": lang, "prompt": flat[k][2], "text": t, "toxicity": s,
                             "distinct_1": d}
                            for k, t, s, d in zip(idx, texts, tox, d1)]
        rows.append({"offset": offset, "lang": "average", "avg_toxicity": sum(per_lang) / len(per_lang),
                     "distinct_1": sum(per_lang_d1) / len(per_lang_d1), "n": len(flat)})
        log.info("offset %g: average toxicity %.4f, distinct-1 %.3f", offset, rows[-1]["avg_toxicity"],
                 rows[-1]["distinct_1"])
    return rows, generations


def plot_figure2(rows: list[dict], out_png: str | Path, title: str, note: str = "") -> None:
    from ..report.figures import _plt, finish

    plt = _plt()
    offsets = sorted({r["offset"] for r in rows})
    langs = [l for l in dict.fromkeys(r["lang"] for r in rows) if l != "average"]
    fig, (ax, ax_d) = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    for axis, key, ylabel, per_label in ((ax, "avg_toxicity", "Average Toxicity", "Per-language Toxicity"),
                                         (ax_d, "distinct_1", "Distinct-1", "Per-language Distinct-1")):
        value = {(r["offset"], r["lang"]): r[key] for r in rows}
        for i, lang in enumerate(langs):
            ys = [value[(o, lang)] for o in offsets]
            axis.plot(offsets, ys, color="#9ecae1", lw=1, alpha=0.8, label=per_label if i == 0 else None)
        axis.plot(offsets, [value[(o, "average")] for o in offsets], color="#d62728", lw=2.5, marker="o",
                  label="Average")
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    ax_d.set_xlabel("Offset")
    ax_d.set_xticks(offsets)
    ax_d.set_title("Degeneration check: distinct tokens / tokens per continuation", fontsize=8)
    ax.set_title(title, fontsize=9)
    finish(fig, out_png, note)


def figure2_step(model_dir: str, value_vectors_csv: str, prompt_paths: Mapping[str, str], out_csv: str, out_png: str,
                 out_generations: str, interpret: dict, scorer_name: str, scoring: dict, label: str = "",
                 dtype: str = "float32", family: str | None = None, threads: int | None = None) -> list[dict]:
    from ..scoring.registry import open_cached_scorer

    model, tokenizer, adapter = load_for_interp(model_dir, dtype, family, threads)
    neurons = selected_neurons(read_value_vectors(value_vectors_csv))
    prompts = {lang: prompt_texts(path, interpret.get("figures_max_prompts")) for lang, path in prompt_paths.items()}
    offsets = interpret["figure2"]["offsets"]
    scorer = open_cached_scorer(scorer_name, scoring)
    try:
        rows, generations = figure2_sweep(model, tokenizer, adapter, prompts, neurons, offsets, scorer,
                                          interpret["n_tokens"], interpret["batch_size"])
    finally:
        scorer.close()
    with atomic_open(out_csv) as handle:
        writer = csv.DictWriter(handle, fieldnames=["offset", "lang", "avg_toxicity", "distinct_1", "n"])
        writer.writeheader()
        writer.writerows(rows)
    write_jsonl(out_generations, generations)
    n_prompts = max(len(p) for p in prompts.values())
    who = f"{label}: " if label else ""
    title = (f"{who}offset on all {len(neurons)} actual sources of toxicity; greedy, {interpret['n_tokens']} tokens, "
             f"≤{n_prompts} prompts/lang; scorer: {scorer_name}")
    plot_figure2(rows, out_png, title, caption_note(adapter))
    return rows
