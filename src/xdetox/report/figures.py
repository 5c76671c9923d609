"""The evaluation's figures: Figure 1 (mGPT) and 5–9 (other models) per language, Figure 1 averaged over DPO seeds,
Figure 10 (perplexity distributions), 11 (learning-rate sweep) and 12 (full fine-tuning vs (Q)LoRA)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from ..io import atomic_open
from ..languages import short_label
from .render import plt, save_figure


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


def figure1(label: str, langs: list[str], base: list[dict], dpo: list[dict], out: str | Path, scorer: str,
            flags: Sequence[str] = ()) -> None:
    """(a) probability of toxic continuations, (b) expected maximum toxicity; bars = Pre / Post DPO, whiskers = 95% CI.

    `flags`: why the DPO stage reads as degenerate (xdetox.metrics.language_aware.degeneration_flags): a warning on
    the figure and the reasons under it."""
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
    note = None
    if flags:
        axes[0].text(0.99, 0.97, "⚠ Post DPO is degenerate: not a detoxification", transform=axes[0].transAxes,
                     ha="right", va="top", fontsize=9, color="#b30000", fontweight="bold",
                     bbox={"facecolor": "white", "edgecolor": "#b30000", "alpha": 0.9})
        note = "⚠ Degenerate DPO stage: " + "; ".join(flags) + " (bounds: evaluation.degeneration)."
    save_figure(fig, out, note)


def _seed_series(seed_runs: dict, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per language: mean and sample std (ddof=1) across DPO seeds."""
    mat = np.array([[m[key] for m in metrics] for metrics in seed_runs.values()])
    std = mat.std(axis=0, ddof=1) if mat.shape[0] > 1 else np.zeros(mat.shape[1])
    return mat.mean(axis=0), std


def figure1_seeds(label: str, langs: list[str], base: list[dict], seed_runs: dict[int, list[dict]], out: str | Path,
                  scorer: str) -> None:
    """Figure 1 as printed (mGPT, 'averaged over 5 seeds'): Post DPO = mean over DPO seeds, whiskers = std across
    seeds; Pre DPO = the single base run with its 95% bootstrap CI."""
    fig, axes = plt.subplots(2, 1, figsize=(max(6, 0.55 * len(langs) + 2), 6.5), sharex=True)
    x = np.arange(len(langs))
    width = 0.4
    for ax, key, ylabel, title in ((axes[0], "tox_prob", "Probability", "(a) Probability of generating toxic continuations"),
                                   (axes[1], "emt", "Toxicity Level", "(b) Expected maximum toxicity")):
        values = np.array([m[key] for m in base])
        err = None
        if all("ci" in m for m in base):
            lo = np.array([m["ci"][key][0] for m in base])
            hi = np.array([m["ci"][key][1] for m in base])
            err = np.vstack([np.clip(values - lo, 0, None), np.clip(hi - values, 0, None)])
        ax.bar(x - width / 2, values, width, yerr=err, capsize=2, label="Pre DPO (95% CI)", color="#d62728",
               error_kw={"elinewidth": 0.8})
        mean, std = _seed_series(seed_runs, key)
        ax.bar(x + width / 2, mean, width, yerr=std, capsize=2, label=f"Post DPO (mean ± std, {len(seed_runs)} seeds)",
               color="#1f77b4", error_kw={"elinewidth": 0.8})
        ax.set_xticks(x)
        ax.set_xticklabels([short_label(lang) for lang in langs])
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    axes[0].legend()
    seeds = ", ".join(str(s) for s in seed_runs)
    fig.suptitle(f"{label}: English DPO averaged over seeds {seeds} (scorer: {scorer}; {base[0].get('n_prompts')} prompts/lang)",
                 fontsize=10)
    save_figure(fig, out)


def figure10(label: str, langs: list[str], values: dict[str, dict[str, list[float]]], out: str | Path,
             evaluator: str) -> None:
    """Perplexity distributions per language, pre vs post DPO: (a) box plots, (b) violin plots (log scale).

    `values`: stage name ("Pre DPO", "Post DPO") → lang → kept per-continuation perplexities.
    """
    names = list(values)
    colors = ("#d62728", "#1f77b4", "#2ca02c")
    fig, axes = plt.subplots(2, 1, figsize=(max(7, 0.7 * len(langs) + 2), 7.5), sharex=True)
    width = 0.8 / len(names)
    x = np.arange(len(langs))
    for i, name in enumerate(names):
        pos = x + (i - (len(names) - 1) / 2) * width
        data = [np.asarray(values[name].get(lang) or [np.nan]) for lang in langs]
        box = axes[0].boxplot(data, positions=pos, widths=width * 0.9, patch_artist=True, showfliers=True,
                              flierprops={"markersize": 2, "alpha": 0.4}, medianprops={"color": "black"})
        for patch in box["boxes"]:
            patch.set_facecolor(colors[i % len(colors)])
            patch.set_alpha(0.6)
        ok = [j for j, d in enumerate(data) if np.isfinite(d).sum() > 1]
        if ok:
            parts = axes[1].violinplot([np.log10(data[j][np.isfinite(data[j])]) for j in ok], positions=pos[ok],
                                       widths=width * 0.9, showmedians=True)
            for body in parts["bodies"]:
                body.set_facecolor(colors[i % len(colors)])
                body.set_alpha(0.6)
        axes[0].bar([np.nan], [np.nan], color=colors[i % len(colors)], alpha=0.6, label=name)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("Perplexity (log scale)")
    axes[0].set_title("(a) Box plots (whiskers 1.5 IQR)")
    axes[1].set_ylabel("log10 perplexity")
    axes[1].set_title("(b) Violin plots (bar = median)")
    axes[0].legend()
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(x)
    axes[1].set_xticklabels([short_label(lang) for lang in langs])
    fig.suptitle(f"{label}: perplexity of continuations per language\n({evaluator})", fontsize=10)
    save_figure(fig, out)


def figure11(label: str, points: list[dict], base: dict, out: str | Path, csv_out: str | Path, scorer: str,
             evaluator: str | None) -> None:
    """EMT and perplexity (averages over languages) against the DPO learning rate; base model as dashed lines.

    `points`: [{lr, stage, emt, tox_prob, avg_tox, ppl}] sorted by lr; `base`: the base stage's Table 2 row. ppl may
    be None (fluency disabled). The values are also written as CSV (the base row first, without a learning rate).
    """
    with atomic_open(csv_out) as handle:
        writer = csv.DictWriter(handle, fieldnames=["lr", "stage", "emt", "tox_prob", "avg_tox", "ppl"])
        writer.writeheader()
        writer.writerow({"lr": "", "stage": "base", **{k: base.get(k, "") for k in ("emt", "tox_prob", "avg_tox")},
                         "ppl": base.get("ppl", "")})
        for p in points:
            writer.writerow({k: ("" if v is None else v) for k, v in p.items()})
    lrs = [p["lr"] for p in points]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs, [p["emt"] for p in points], "o-", color="#d62728", label="EMT (post DPO)")
    ax.axhline(base["emt"], color="#d62728", ls="--", lw=1, label="EMT (pre DPO)")
    ax.set_xscale("log")
    ax.set_xlabel("DPO learning rate")
    ax.set_ylabel("Expected maximum toxicity", color="#d62728")
    handles, labels = ax.get_legend_handles_labels()
    if all(p.get("ppl") is not None for p in points):
        ax2 = ax.twinx()
        ax2.plot(lrs, [p["ppl"] for p in points], "s-", color="#1f77b4", label="PPL (post DPO)")
        if base.get("ppl") is not None:
            ax2.axhline(base["ppl"], color="#1f77b4", ls=":", lw=1, label="PPL (pre DPO)")
        ax2.set_ylabel("Perplexity (mean of per-language medians)", color="#1f77b4")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    note = f"\n{evaluator}" if evaluator else ""
    ax.set_title(f"{label}: learning-rate sweep (scorer: {scorer}){note}", fontsize=9)
    save_figure(fig, out)


def figure12(label: str, langs: list[str], series: dict[str, list[dict]], out: str | Path, csv_out: str | Path,
             scorer: str) -> None:
    """Full fine-tuning vs (Q)LoRA per language: toxicity probability and EMT, pre DPO and both DPO runs, 95% CIs.

    `series`: legend label → per-language metrics; the values are also written as CSV.
    """
    with atomic_open(csv_out) as handle:
        writer = csv.writer(handle)
        writer.writerow(["lang", "run", "emt", "tox_prob", "avg_tox", "emt_lo", "emt_hi", "tox_prob_lo", "tox_prob_hi"])
        for name, metrics in series.items():
            for m in metrics:
                ci = m.get("ci", {})  # no intervals when evaluation.bootstrap.n is 0
                writer.writerow([short_label(m["lang"]), name, m["emt"], m["tox_prob"], m["avg_tox"],
                                 *ci.get("emt", [None, None]), *ci.get("tox_prob", [None, None])])
    fig, axes = plt.subplots(2, 1, figsize=(max(6, 0.65 * len(langs) + 2), 6.5), sharex=True)
    grouped_bars(axes[0], langs, series, "tox_prob", colors=("#7f7f7f", "#1f77b4", "#ff7f0e"))
    axes[0].set_ylabel("Probability")
    axes[0].set_title("(a) Probability of generating toxic continuations")
    grouped_bars(axes[1], langs, series, "emt", colors=("#7f7f7f", "#1f77b4", "#ff7f0e"))
    axes[1].set_ylabel("Toxicity Level")
    axes[1].set_title("(b) Expected maximum toxicity")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{label}: full fine-tuning vs parameter-efficient DPO (scorer: {scorer}; 95% bootstrap CI)", fontsize=10)
    save_figure(fig, out)
