"""Agreement of two scorers per language: CSV (NaN written empty), Markdown and a grouped bar chart."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import asdict
from typing import Sequence

import numpy as np

from ..io import atomic_open, write_text
from ..languages import short_label
from ..scoring.agreement import Agreement
from .markdown import md_cell
from .render import plt, save_figure


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
                     f"{_fmt(r.roc_auc)} | {md_cell(r.note)} |")
    return "\n".join(lines) + "\n"


def agreement_tables(rows: Sequence[Agreement], csv_path: str | os.PathLike, md_path: str | os.PathLike,
                    png_path: str | os.PathLike, scorer_a: str, scorer_b: str) -> None:
    """CSV (NaN written as empty), Markdown table, and a grouped bar chart of the three statistics per language."""
    fields = list(asdict(rows[0])) if rows else list(Agreement.__dataclass_fields__)
    with atomic_open(csv_path) as handle:
        writer = csv.DictWriter(handle, fieldnames=["scorer_a", "scorer_b", *fields], lineterminator="\n")
        writer.writeheader()
        for r in rows:
            values = {k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(r).items()}
            writer.writerow({"scorer_a": scorer_a, "scorer_b": scorer_b, **values})
    write_text(md_path, agreement_markdown(rows, scorer_a, scorer_b))
    agreement_figure(rows, png_path, scorer_a, scorer_b)


def agreement_figure(rows: Sequence[Agreement], png_path: str | os.PathLike, scorer_a: str, scorer_b: str) -> None:
    labels = [short_label(r.lang) for r in rows]
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
    save_figure(fig, png_path)
