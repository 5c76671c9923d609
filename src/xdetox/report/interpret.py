"""The interpretability branch's tables and figures (paper §4): Tables 4, 8, 9 (value-vector projections), Table 5
(causal intervention), Figure 2 (toxicity under a negative offset) and Figure 3 (activations before and after DPO).

A `note` (xdetox.interp.adapters.caption_note) is printed under a figure or table whose model normalises the MLP
output (Gemma 2/3), where a neuron's effect is not linear in its activation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..io import write_csv, write_text
from ..languages import short_label
from .markdown import md_cell
from .render import plt, save_figure

Neuron = tuple[int, int]

PROJECTION_FIELDS = ["layer", "neuron", "vector_rank", "cosine", "mean_activation", "token_rank", "token_id", "token",
                     "logit"]


def _token(text: str) -> str:
    return md_cell(text) if text.strip() else repr(text)  # a whitespace token stays visible


def projection_markdown(title: str, caption: str, proj: list[dict], limit: int | None = None) -> str:
    vectors: dict[tuple[int, int], list[dict]] = {}
    for p in proj:
        vectors.setdefault((p["layer"], p["neuron"]), []).append(p)
    keys = list(vectors)[:limit] if limit is not None else list(vectors)
    lines = [f"# {title}", "", caption, ""]
    lines += ["| # | Vector (layer, neuron) | Rank in top-k | Cosine | Mean activation | Top promoted tokens |",
              "|---|---|---|---|---|---|"]
    for i, key in enumerate(keys, start=1):
        ps = vectors[key]
        tokens = ", ".join(_token(p["token"]) for p in ps)
        lines.append(f"| {i} | w_down {key[0]},{key[1]} | {ps[0]['vector_rank']} | {ps[0]['cosine']:.4f} | "
                     f"{ps[0]['mean_activation']:.4f} | {tokens} |")
    if not keys:
        lines.append("| – | no value vector had a positive mean activation | | | | |")
    return "\n".join(lines) + "\n"


def projection_tables(proj: list[dict], n_selected: int, n_candidates: int, k: int, n_table4: int, label: str,
                      note: str, csv_out: str | Path, table4_out: str | Path, tables89_out: str | Path) -> None:
    """The long projection CSV, Table 4 (the first `n_table4` actual sources) and Tables 8–9 (all of them)."""
    write_csv(csv_out, proj, PROJECTION_FIELDS)
    who = f"{label}: " if label else ""
    common = (f"Top {k} tokens promoted by each value vector (W_U · w_down, no final norm), for the actual sources of "
              f"toxicity ({n_selected} of the top {n_candidates} value vectors by cosine with the probe that have a "
              f"positive mean activation on English prompts), ranked by cosine. \"_\" marks a leading space."
              + (f"\n\n{note}" if note else ""))
    write_text(table4_out, projection_markdown(f"Table 4 analogue — {who}selected value-vector projections",
                                               f"The first {n_table4} actual sources by cosine rank (the paper chose "
                                               "4 by theme). " + common, proj, n_table4))
    write_text(tables89_out, projection_markdown(f"Tables 8–9 analogue — {who}projections of all {n_selected} actual "
                                                 "sources", common, proj))


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
        lines.append(f"| {lang} | {md_cell(prompt)} | " + " | ".join(md_cell(conts[o]) for o in offsets) + " |")
    return "\n".join(lines) + "\n"


def table5(rows: list[dict], neurons: Sequence[Neuron], offsets: Sequence[float], label: str, note: str,
           csv_out: str | Path, md_out: str | Path) -> None:
    write_csv(csv_out, rows, ["lang", "prompt", "offset", "continuation"])
    write_text(md_out, table5_markdown(rows, neurons, offsets, label, note))


def figure2(rows: list[dict], csv_out: str | Path, png_out: str | Path, title: str, note: str = "") -> None:
    """Average toxicity (and Distinct-1, the degeneration check) per language and on average, against the offset."""
    write_csv(csv_out, rows, ["offset", "lang", "avg_toxicity", "distinct_1", "n"])
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
    save_figure(fig, png_out, note)


def figure3(rows: list[dict], neuron_rows: list[dict], csv_out: str | Path, neurons_csv_out: str | Path,
            png_out: str | Path, title: str, note: str = "") -> None:
    """Mean activation of the actual sources per language, pre vs post DPO (and the per-neuron values as CSV)."""
    write_csv(csv_out, rows, ["lang", "pre_dpo", "post_dpo", "diff", "n_prompts"])
    write_csv(neurons_csv_out, neuron_rows, ["lang", "layer", "neuron", "pre_dpo", "post_dpo"])
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
    save_figure(fig, png_out, note)
