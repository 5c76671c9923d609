"""Per-language bar charts: Figure 1 (mGPT) and Figures 5–9 (other models), pre vs post DPO, with 95% CIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_path
from ..languages import short_label


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip("."), dpi=130, bbox_inches="tight")


def grouped_bars(ax, langs, series: dict[str, list[dict]], key: str, colors=("#d62728", "#1f77b4", "#2ca02c")):
    width = 0.8 / len(series)
    x = np.arange(len(langs))
    for i, (name, metrics) in enumerate(series.items()):
        values = np.array([m[key] for m in metrics])
        err = None
        if all("ci" in m for m in metrics):
            lo = np.array([m["ci"][key][0] for m in metrics])
            hi = np.array([m["ci"][key][1] for m in metrics])
            err = np.vstack([np.clip(values - lo, 0, None), np.clip(hi - values, 0, None)])
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, yerr=err, capsize=2, label=name,
               color=colors[i % len(colors)], error_kw={"elinewidth": 0.8})
    ax.set_xticks(x)
    ax.set_xticklabels([short_label(lang) for lang in langs])
    ax.grid(axis="y", alpha=0.3)


def figure1(label: str, langs: list[str], base: list[dict], dpo: list[dict], out: str | Path, scorer: str) -> None:
    """(a) probability of toxic continuations, (b) expected maximum toxicity; bars = Pre / Post DPO, whiskers = 95% CI."""
    plt = _plt()
    fig, axes = plt.subplots(2, 1, figsize=(max(6, 0.55 * len(langs) + 2), 6.5), sharex=True)
    series = {"Pre DPO": base, "Post DPO": dpo}
    grouped_bars(axes[0], langs, series, "tox_prob")
    axes[0].set_ylabel("Probability")
    axes[0].set_title("(a) Probability of generating toxic continuations")
    grouped_bars(axes[1], langs, series, "emt")
    axes[1].set_ylabel("Toxicity Level")
    axes[1].set_title("(b) Expected maximum toxicity")
    axes[0].legend()
    n = base[0].get("n_prompts")
    fig.suptitle(f"{label}: English DPO, per language (scorer: {scorer}; {n} prompts/lang; 95% bootstrap CI)", fontsize=10)
    fig.tight_layout()
    save(fig, out)
    plt.close(fig)
