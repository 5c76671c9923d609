"""The statistics every part of the study shares: ranks, correlations, ROC-AUC and the percentile bootstrap.

Plain numpy, one definition each: the toxicity metrics, fluency, diversity, scorer agreement and the probe all use
these, so a confidence interval or an AUC means the same thing in every table.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks 1..n, ties sharing the mean of the ranks they span (scipy's rankdata(method="average"))."""
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
    """Pearson's r; NaN when either variable is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float((dx * dx).sum() * (dy * dy).sum()))
    return float((dx * dy).sum() / denominator) if denominator > 0 else math.nan


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson's r of the average ranks."""
    return pearson(average_ranks(x), average_ranks(y))


def roc_auc(labels: Sequence[bool | int], scores: Sequence[float]) -> float:
    """Area under the ROC curve of `scores` against binary `labels` (sklearn's argument order: truth first).

    P(score of a random positive > score of a random negative), ties counted half (Mann–Whitney U / n⁺n⁻);
    NaN when one class is absent.
    """
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = average_ranks(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def percentile_bootstrap(n_units: int, statistic: Callable[[np.ndarray], Mapping[str, Sequence[float]]],
                         n_boot: int, ci: float, seed: int) -> dict[str, list[float]]:
    """Percentile bootstrap over `n_units` resampled with replacement (the prompts: the unit the paper samples).

    `statistic(idx)` gets the [n_boot, n_units] matrix of resampled unit indices and returns, per statistic name,
    its value in each resample (a resample it cannot evaluate may be left out). Returns name -> [lower, upper] at
    level `ci`.
    """
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_units, size=(n_boot, n_units))
    lo, hi = (1 - ci) / 2 * 100, (1 + ci) / 2 * 100
    return {name: [float(np.percentile(values, lo)), float(np.percentile(values, hi))]
            for name, values in statistic(idx).items()}
