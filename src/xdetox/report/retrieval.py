"""The retrieval branch's figures (paper §5, App. E): per-layer retrieval curves and Figure 4 (13–15 for other
models), %EMT change against retrieval with the least-squares line and the correlations in the title: the selected
measure's first, then the other of paired cosine (the reference's 'retrieval acc', r = 0.732 in the paper) and top-1
accuracy, so the figure can be read against the paper whichever one leads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..languages import short_label
from ..retrieval.measures import LABELS, SHORT_LABELS
from ..retrieval.predictor import PIVOT
from .render import plt, save_figure


def layer_figure(summary: dict[str, dict], out: str | Path, title: str) -> None:
    """Per-layer curves: (a) top-1 accuracy en->X, (b) mean paired cosine; one line per language."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharex=True)
    cmap = plt.get_cmap("tab20")
    for i, (lang, s) in enumerate(summary.items()):
        layers = np.arange(s["n_layers"])
        style = dict(color=cmap(i % 20), lw=1.2, label=short_label(lang))
        axes[0].plot(layers, s["acc_en2x_by_layer"], **style)
        axes[1].plot(layers, s["paired_cosine_by_layer"], **style)
    any_s = next(iter(summary.values()))
    axes[0].axhline(any_s["chance_accuracy"], color="grey", ls=":", lw=1, label="chance")
    axes[0].set_ylabel("Top-1 retrieval accuracy (en→x)")
    axes[0].set_title("(a) Retrieval accuracy")
    axes[1].set_ylabel("Mean paired cosine (reference 'retrieval acc')")
    axes[1].set_title("(b) Paired cosine similarity")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Layer (0 = embedding output)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2, loc="best")
    fig.suptitle(f"{title}, {any_s['n_sentences']} parallel sentences", fontsize=10)
    save_figure(fig, out)


def _fmt_p(p) -> str:
    if p is None:
        return "n/a"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def other_measure(selected: str) -> str:
    """The measure shown beside the selected one: paired cosine, or top-1 accuracy en-x when paired cosine leads."""
    return "acc_en2x" if selected == "paired_cosine" else "paired_cosine"


def _stat_line(key: str, c: dict) -> str:
    if c["pearson_r"] is None:
        return f"{SHORT_LABELS[key]}: {c.get('note', 'no correlation')}"
    return (f"{SHORT_LABELS[key]}: Pearson-r = {c['pearson_r']:.3f} (p = {_fmt_p(c['pearson_p'])}), "
            f"Spearman = {c['spearman_rho']:.3f} (p = {_fmt_p(c['spearman_p'])})")


def figure4_caption(result: dict) -> list[str]:
    """Figure 4's statistics lines: the selected measure's correlations first (the x-axis), then the other measure's,
    then the number of languages."""
    key = result["selected"]
    other = other_measure(key)
    lines = [_stat_line(key, result["correlation"])]
    if other in result.get("correlations", {}):
        lines.append("beside it, " + _stat_line(other, result["correlations"][other]))
    lines.append(f"n = {result['correlation']['n']} languages")
    return lines


def figure4(result: dict, out: str | Path, title: str) -> None:
    """Labelled scatter of %EMT change against the selected retrieval measure, least-squares line; r and p of it and
    of the other measure in the title (figure4_caption)."""
    key = result["selected"]
    used = [r for r in result["rows"] if r["used"]]
    x = np.array([r[f"{key}_avg"] for r in used], dtype=float)
    y = np.array([r["emt_change"] for r in used], dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    ax.scatter(x, y, color="#1f77b4", zorder=3)
    for r, xi, yi in zip(used, x, y):
        ax.annotate(short_label(r["lang"]), (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize=9)
    if len(x) >= 2 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.linspace(x.min(), x.max(), 50)
        ax.plot(grid, slope * grid + intercept, color="#d62728", lw=1.2, label="least-squares fit")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title("\n".join([title, *figure4_caption(result)]), fontsize=9)
    ax.set_xlabel(LABELS[key])
    ax.set_ylabel("%EMT Change (English DPO Training)")
    ax.grid(alpha=0.3)
    if result["excluded"]:
        dropped = [lang for lang in result["excluded"] if lang != PIVOT]
        if dropped:
            ax.text(0.01, 0.01, "excluded (%EMT change undefined): " + ", ".join(map(short_label, dropped)),
                    transform=ax.transAxes, fontsize=7, color="grey")
    save_figure(fig, out)
