"""How well two scorers agree on the same generations, per language.

For scorer A (the reference, e.g. Perspective) and scorer B (e.g. a local classifier): Pearson and Spearman
correlation of the toxicities, and the ROC-AUC of B's continuous score against A's label (A ≥ threshold, as the
metrics do). A statistic that is undefined (a constant score, or one class absent from A's labels) is NaN and the
row's note says why. The statistics are xdetox.stats's; the table and figure are xdetox.report.agreement's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..stats import pearson, roc_auc, spearman
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


def agreement(a: Sequence[float], b: Sequence[float], lang: str, threshold: float) -> Agreement:
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
                          threshold: float) -> list[Agreement]:
    """One row per language of `records` (lang → (A's score records, B's score records)), then all pooled."""
    rows, pooled_a, pooled_b = [], [], []
    for lang, (records_a, records_b) in records.items():
        a, b = paired_toxicities(records_a, records_b)
        rows.append(agreement(a, b, lang, threshold))
        pooled_a += a
        pooled_b += b
    rows.append(agreement(pooled_a, pooled_b, POOLED, threshold))
    return rows
