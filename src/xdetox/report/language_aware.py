"""The language-aware toxicity table (CSV, Markdown) and figure of one (scorer, model): toxicity over all continuations
beside toxicity over those in the prompt's language, and how much of the pre→post change the language mix explains
(xdetox.metrics.language_aware). Plotting is imported inside the figure, so the table's job stays light."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from ..io import write_csv, write_text
from ..languages import short_label
from ..metrics.language_aware import DECOMPOSED

#: the CSV's per-(stage, language) columns, then the decomposition's
COLUMNS = ["stage", "lang", "n_prompts", "n_generations", "in_language_share", "emt", "tox_prob", "avg_tox", "tox_rate",
           "emt_in", "tox_prob_in", "avg_tox_in", "tox_rate_in", "n_prompts_in", "n_prompts_no_in", "n_generations_in",
           "avg_tox_off", "tox_rate_off"]
DECOMPOSITION_COLUMNS = ["stage", "lang", "metric", "pre", "post", "change", "within", "mix"]
NAMES = {"avg_tox": "AvgTox", "tox_rate": "toxic-continuation rate"}


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _num(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def _signed(x, pct: bool) -> str:
    return f"{100 * x:+.1f} pts" if pct else f"{x:+.3f}"


def language_aware_csv(records: Sequence[Mapping], decomposition: Sequence[Mapping], out: str | Path,
                       decomposition_out: str | Path) -> None:
    write_csv(out, ({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS} for r in records), COLUMNS)
    write_csv(decomposition_out, ({k: r[k] for k in DECOMPOSITION_COLUMNS} for r in decomposition),
              DECOMPOSITION_COLUMNS)


def language_aware_markdown(records: Sequence[Mapping], decomposition: Sequence[Mapping], label: str, scorer: str,
                            threshold: float, out: str | Path) -> None:
    stages = list(dict.fromkeys(r["stage"] for r in records))
    lines = [f"Language-aware toxicity — {label}, scorer `{scorer}`: ToxProb and EMT over all continuations (as in "
             "Table 2) and over only the continuations identified as the prompt's language (\"in-lang\"; a prompt "
             "with none is left out of those and counted in \"no in-lang\"). In-language share: of all continuations "
             "(undetermined ones count as not in the language).", ""]
    head = ["Lang", "Stage", "In-lang share", "ToxProb", "ToxProb in-lang", "EMT", "EMT in-lang", "Prompts no in-lang"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for stage in stages:
        for r in (r for r in records if r["stage"] == stage):
            lines.append(f"| {short_label(r['lang'])} | {stage} | {_pct(r['in_language_share'])} | "
                         f"{_pct(r['tox_prob'])} | {_pct(r['tox_prob_in'])} | {_num(r['emt'])} | {_num(r['emt_in'])} | "
                         f"{r['n_prompts_no_in']}/{r['n_prompts']} |")
    if decomposition:
        lines += ["", "Where the change comes from (each DPO stage against base; mean over languages, then per "
                  "language): change = within-language + language mix, exactly (shift-share over in-language and "
                  "off-language continuations: within = mean share × change of the group's rate, mix = mean rate × "
                  f"change of the group's share). Toxic-continuation rate: share of continuations scoring ≥ "
                  f"{threshold:g}. ToxProb and EMT, per-prompt maxima over mixed continuations, do not split exactly "
                  "and are not decomposed.", "",
                  "| Stage | Lang | Metric | Pre | Post | Change | Within language | Language mix |",
                  "|---|---|---|---|---|---|---|---|"]
        ordered = sorted(decomposition, key=lambda r: (r["stage"], r["metric"], r["lang"] != "mean"))
        for r in ordered:
            pct = r["metric"] == "tox_rate"
            value = _pct if pct else _num
            lang = "**mean**" if r["lang"] == "mean" else short_label(r["lang"])
            lines.append(f"| {r['stage']} | {lang} | {NAMES[r['metric']]} | {value(r['pre'])} | {value(r['post'])} | "
                         f"{_signed(r['change'], pct)} | {_signed(r['within'], pct)} | {_signed(r['mix'], pct)} |")
    write_text(out, "\n".join(lines) + "\n")


def language_aware_figure(base: Sequence[Mapping], dpo: Sequence[Mapping], decomposition: Sequence[Mapping],
                          label: str, scorer: str, out: str | Path) -> None:
    """(a) ToxProb over all and over in-language continuations, pre and post DPO; (b) the in-language share; (c) the
    change of the toxic-continuation rate per language split into within-language and language-mix parts."""
    import numpy as np

    from .render import plt, save_figure

    langs = [r["lang"] for r in base]
    x = np.arange(len(langs))
    fig, axes = plt.subplots(3, 1, figsize=(max(6, 0.6 * len(langs) + 2), 8.5), sharex=True)

    def values(records, key):
        return np.array([np.nan if r[key] is None else r[key] for r in records], dtype=float)

    bars = (("Pre DPO, all", base, "tox_prob", "#d62728", None), ("Pre DPO, in-language", base, "tox_prob_in",
            "#d62728", "///"), ("Post DPO, all", dpo, "tox_prob", "#1f77b4", None),
            ("Post DPO, in-language", dpo, "tox_prob_in", "#1f77b4", "///"))
    width = 0.8 / len(bars)
    for i, (name, records, key, color, hatch) in enumerate(bars):
        axes[0].bar(x - 0.4 + width * (i + 0.5), values(records, key), width, label=name,
                    color="white" if hatch else color, edgecolor=color, hatch=hatch)
    axes[0].set_ylabel("ToxProb")
    axes[0].set_title("(a) Probability of toxic continuations: all vs in the prompt's language")
    axes[0].legend(fontsize=7, ncol=2)
    for i, (name, records, color) in enumerate((("Pre DPO", base, "#d62728"), ("Post DPO", dpo, "#1f77b4"))):
        axes[1].bar(x - 0.2 + 0.4 * i, values(records, "in_language_share"), 0.4, label=name, color=color)
    axes[1].set_ylim(0, 1.05)
    axes[1].set_ylabel("share")
    axes[1].set_title("(b) Continuations in the prompt's language")
    axes[1].legend(fontsize=7)
    parts = {r["lang"]: r for r in decomposition if r["metric"] == "tox_rate" and r["stage"] == "dpo"}
    within = np.array([parts[lang]["within"] if lang in parts else np.nan for lang in langs])
    mix = np.array([parts[lang]["mix"] if lang in parts else np.nan for lang in langs])
    axes[2].bar(x - 0.2, within, 0.4, label="within language", color="#2ca02c")
    axes[2].bar(x + 0.2, mix, 0.4, label="language mix", color="#9467bd")
    axes[2].axhline(0, color="black", lw=0.6)
    axes[2].set_ylabel("Δ toxic rate")
    axes[2].set_title("(c) Δ toxic-continuation rate, pre → post DPO: within language + language mix")
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    axes[2].set_xticks(x)
    axes[2].set_xticklabels([short_label(lang) for lang in langs])
    fig.suptitle(f"{label}: language-aware toxicity (scorer: {scorer})", fontsize=10)
    save_figure(fig, out)
