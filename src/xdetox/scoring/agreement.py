"""How well two scorers agree on the same generations, per language.

For scorer A (the reference, e.g. Perspective) and scorer B (e.g. a local classifier): Pearson and Spearman
correlation of the toxicities, and the ROC-AUC of B's continuous score against A's label (A ≥ threshold, as the
metrics do). A statistic that is undefined (a constant score, or one class absent from A's labels) is NaN and the
row's note says why. Everything is computed here with numpy (ties get average ranks), no scipy/sklearn needed.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..io import atomic_open, atomic_path
from .base import ScoringError

POOLED = "all"


@dataclass(frozen=True)
class Agreement:
    lang: str
    n: int
    n_toxic_a: int  # generations scorer A labels toxic
    pearson: float
    spearman: float
    roc_auc: float
    note: str = ""


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks 1..n, ties sharing the mean of the ranks they span."""
    x = np.asarray(values, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    sorted_x = x[order]
    start = 0
    while start < len(x):
        end = start
        while end + 1 < len(x) and sorted_x[end + 1] == sorted_x[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float((dx * dx).sum() * (dy * dy).sum()))
    return float((dx * dy).sum() / denominator) if denominator > 0 else math.nan


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    return pearson(average_ranks(x), average_ranks(y))


def roc_auc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """P(score of a random positive > score of a random negative), ties counted half (Mann–Whitney U / n⁺n⁻)."""
    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = average_ranks(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def agreement(a: Sequence[float], b: Sequence[float], lang: str = POOLED, threshold: float = 0.5) -> Agreement:
    if len(a) != len(b):
        raise ScoringError(f"agreement ({lang}): {len(a)} scores from A but {len(b)} from B")
    labels = np.asarray(a, dtype=float) >= threshold
    notes = []
    if len(a) < 2:
        notes.append("fewer than 2 generations")
    if len(a) and np.ptp(a) == 0:
        notes.append("A's scores are constant")
    if len(b) and np.ptp(b) == 0:
        notes.append("B's scores are constant")
    if labels.all() or not labels.any():
        notes.append(f"A labels {'every' if labels.all() and len(a) else 'no'} generation toxic: ROC-AUC undefined")
    return Agreement(
        lang=lang,
        n=len(a),
        n_toxic_a=int(labels.sum()),
        pearson=pearson(a, b) if len(a) >= 2 else math.nan,
        spearman=spearman(a, b) if len(a) >= 2 else math.nan,
        roc_auc=roc_auc(labels, b),
        note="; ".join(notes),
    )


def paired_toxicities(records_a: Sequence[dict], records_b: Sequence[dict]) -> tuple[list[float], list[float]]:
    """Toxicities of two score files for the same generations, matched on (prompt_id, sample)."""
    b_by_id = {(r["prompt_id"], r["sample"]): r["toxicity"] for r in records_b}
    a_ids = [(r["prompt_id"], r["sample"]) for r in records_a]
    missing = [i for i in a_ids if i not in b_by_id]
    if missing or len(b_by_id) != len(a_ids):
        raise ScoringError(f"agreement: the two score files cover different generations "
                           f"({len(a_ids)} vs {len(b_by_id)}; e.g. {missing[:1] or 'extra in B'})")
    return [float(r["toxicity"]) for r in records_a], [float(b_by_id[i]) for i in a_ids]


def agreement_by_language(records: Mapping[str, tuple[Sequence[dict], Sequence[dict]]],
                          threshold: float = 0.5) -> list[Agreement]:
    """One row per language of `records` (lang → (A's score records, B's score records)), then all pooled."""
    rows, pooled_a, pooled_b = [], [], []
    for lang, (records_a, records_b) in records.items():
        a, b = paired_toxicities(records_a, records_b)
        rows.append(agreement(a, b, lang, threshold))
        pooled_a += a
        pooled_b += b
    rows.append(agreement(pooled_a, pooled_b, POOLED, threshold))
    return rows


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def agreement_markdown(rows: Sequence[Agreement], scorer_a: str, scorer_b: str) -> str:
    lines = [
        f"Agreement of **{scorer_b}** with **{scorer_a}** (labels: {scorer_a} ≥ threshold).",
        "",
        "| lang | n | toxic by A | Pearson | Spearman | ROC-AUC | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r.lang} | {r.n} | {r.n_toxic_a} | {_fmt(r.pearson)} | {_fmt(r.spearman)} | "
                     f"{_fmt(r.roc_auc)} | {r.note} |")
    return "\n".join(lines) + "\n"


def write_agreement(rows: Sequence[Agreement], csv_path: str | os.PathLike, md_path: str | os.PathLike,
                    png_path: str | os.PathLike, scorer_a: str, scorer_b: str) -> None:
    """CSV (NaN written as empty), Markdown table, and a grouped bar chart of the three statistics per language."""
    fields = list(asdict(rows[0])) if rows else list(Agreement.__dataclass_fields__)
    with atomic_open(csv_path) as handle:
        writer = csv.DictWriter(handle, fieldnames=["scorer_a", "scorer_b", *fields], lineterminator="\n")
        writer.writeheader()
        for r in rows:
            values = {k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(r).items()}
            writer.writerow({"scorer_a": scorer_a, "scorer_b": scorer_b, **values})
    with atomic_open(md_path) as handle:
        handle.write(agreement_markdown(rows, scorer_a, scorer_b))
    _plot(rows, png_path, scorer_a, scorer_b)


def _plot(rows: Sequence[Agreement], png_path: str | os.PathLike, scorer_a: str, scorer_b: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["zh" if r.lang == "zh-hans" else r.lang for r in rows]
    x = np.arange(len(rows))
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(rows) + 2), 3.6))
    for k, (name, attr) in enumerate((("Pearson", "pearson"), ("Spearman", "spearman"), ("ROC-AUC", "roc_auc"))):
        values = [getattr(r, attr) for r in rows]  # NaN draws no bar: the table's note says why
        ax.bar(x + (k - 1) * width, values, width, label=name)
    ax.set_xticks(x, labels)
    ax.set_ylim(-1.0 if any(v < 0 for r in rows for v in (r.pearson, r.spearman)) else 0.0, 1.0)
    ax.axhline(0.5, color="grey", linewidth=0.6, linestyle=":")
    ax.set_ylabel("agreement")
    ax.set_title(f"{scorer_b} vs {scorer_a}")
    ax.legend(ncols=3, fontsize="small", loc="lower right")
    fig.tight_layout()
    png_path = Path(png_path)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=150)
    plt.close(fig)
