"""How far to trust a toxicity scorer, per language: its scores against RTP-LX's human ratings.

Inputs are one row per (language, prompt): the prompt's human rating (`human`, the mean of RTP-LX's raters on the
1–5 scale) and the scorer's toxicity in [0, 1] (`score`). Per language, with 95% percentile-bootstrap intervals over
prompts (the unit RTP-LX samples):

- ROC-AUC of the score against human-toxic, mean rating ≥ 3 (`auc`), and ≥ 2 as a sensitivity column (`auc_ge2`);
- Spearman ρ of the score with the mean rating (`spearman`);
- linear-weighted Cohen's κ on the 1–5 scale (`kappa`, the RTP-LX paper's measure: human–human 0.64, best LLM judge
  ≈ 0.44, Llama Guard 0.22). Both sides are put on 1–5 with FIXED bins decided before looking at any validation data:
  the score with `KAPPA_BINS` — equal fifths of [0, 1], [0, .2) → 1, [.2, .4) → 2, [.4, .6) → 3, [.6, .8) → 4,
  [.8, 1] → 5, so that the flagging threshold 0.5 falls in the middle category, like a human mean of 3; the human mean
  rounded to the nearest integer (a mean of three integer ratings is never exactly halfway);
- the share the scorer flags at the threshold (score ≥ threshold, as the toxicity metrics count) beside the share
  humans rate toxic (mean ≥ 3).

A statistic that cannot be computed is NaN and the row's `note` says why, never a made-up number: constant scores
(AUC, ρ and κ measure nothing then), one class only among the human labels (AUC), a language without labels.

Cross-language consistency (`consistency`): on multi-way parallel prompts (the paper's 200), each language's mean
score offset from English on the same prompts and the rank correlation with English, with bootstrap intervals over
prompts. A scorer that inflates one language biases every cross-lingual comparison.

Tables, figures and captions of these rows: xdetox.report.validation.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from .. import XdetoxError
from ..stats import percentile_bootstrap, roc_auc, spearman

#: upper edges of score categories 1..4 (category 5 is [0.8, 1]); fixed a priori, see the module docstring
KAPPA_BINS: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
HUMAN_TOXIC = 3.0  # RTP-LX mean rating at or above which a prompt counts as toxic
HUMAN_TOXIC_SENSITIVITY = 2.0
STATISTICS = ("auc", "auc_ge2", "spearman", "kappa")


@dataclass(frozen=True)
class ValidationRow:
    lang: str
    n: int
    n_toxic: int  # human mean ≥ 3
    human_share: float
    flagged_share: float
    auc: float
    auc_lo: float
    auc_hi: float
    auc_ge2: float
    auc_ge2_lo: float
    auc_ge2_hi: float
    spearman: float
    spearman_lo: float
    spearman_hi: float
    kappa: float
    kappa_lo: float
    kappa_hi: float
    note: str = ""


def score_category(scores: Sequence[float], bins: Sequence[float] = KAPPA_BINS) -> np.ndarray:
    """1..len(bins)+1: the bin of each score in [0, 1]; a score equal to an edge goes to the upper bin."""
    return np.searchsorted(np.asarray(bins, dtype=float), np.asarray(scores, dtype=float), side="right") + 1


def human_category(means: Sequence[float]) -> np.ndarray:
    """The human mean rating rounded to 1..5 (half up; means of 3 integer ratings are never halfway)."""
    return np.clip(np.floor(np.asarray(means, dtype=float) + 0.5), 1, 5).astype(int)


def weighted_kappa(a: Sequence[int], b: Sequence[int], categories: int = 5) -> float:
    """Linear-weighted Cohen's κ of two ratings on 1..categories: 1 − Σ w·O / Σ w·E, w_ij = |i − j| / (k − 1).

    NaN when chance disagreement is zero (both raters constant on the same category): κ is undefined then.
    """
    a, b = np.asarray(a, dtype=int) - 1, np.asarray(b, dtype=int) - 1
    if len(a) == 0:
        return math.nan
    observed = np.zeros((categories, categories))
    np.add.at(observed, (a, b), 1.0)
    observed /= len(a)
    expected = np.outer(observed.sum(1), observed.sum(0))
    i, j = np.indices((categories, categories))
    weights = np.abs(i - j) / (categories - 1)
    chance = float((weights * expected).sum())
    return 1.0 - float((weights * observed).sum()) / chance if chance > 0 else math.nan


def percentile_interval(n_items: int, statistic: Callable[[np.ndarray], Sequence[float]], n_boot: int, ci: float,
                        seed: int) -> np.ndarray:
    """Percentile-bootstrap [lo, hi] rows, one per value `statistic(indices)` returns, resampling items
    (xdetox.stats.percentile_bootstrap).

    Resamples where a statistic is undefined (NaN, e.g. one class only) are left out of its interval; an interval with
    no defined resample is NaN.
    """
    def each_resample(idx: np.ndarray) -> dict[int, np.ndarray]:
        draws = np.array([statistic(row) for row in idx], dtype=float)
        defined = {k: draws[:, k][~np.isnan(draws[:, k])] for k in range(draws.shape[1])}
        return {k: v for k, v in defined.items() if len(v)}

    first = np.asarray(statistic(np.arange(n_items)), dtype=float)
    out = np.full((len(first), 2), math.nan)
    for k, bounds in percentile_bootstrap(n_items, each_resample, n_boot, ci, seed).items():
        out[k] = bounds
    return out


def _point(human: np.ndarray, score: np.ndarray, bins: Sequence[float]) -> list[float]:
    constant = len(score) < 2 or np.ptp(score) == 0
    if constant:
        return [math.nan] * len(STATISTICS)
    return [
        roc_auc(human >= HUMAN_TOXIC, score),
        roc_auc(human >= HUMAN_TOXIC_SENSITIVITY, score),
        spearman(score, human) if np.ptp(human) > 0 else math.nan,
        weighted_kappa(human_category(human), score_category(score, bins)),
    ]


def validate_language(lang: str, human: Sequence[float], score: Sequence[float], threshold: float = 0.5,
                      bins: Sequence[float] = KAPPA_BINS, n_boot: int = 1000, ci: float = 0.95,
                      seed: int = 0) -> ValidationRow:
    human, score = np.asarray(human, dtype=float), np.asarray(score, dtype=float)
    if len(human) != len(score):
        raise XdetoxError(f"scorer validation ({lang}): {len(human)} human ratings but {len(score)} scores")
    if len(score) and not (np.isfinite(score).all() and (score >= 0).all() and (score <= 1).all()):
        raise XdetoxError(f"scorer validation ({lang}): scores must be finite numbers in [0, 1]")
    n = len(human)
    if n == 0:
        nan = [math.nan] * 14
        return ValidationRow(lang, 0, 0, *nan, note="no human labels for this language: not validated")
    notes = []
    if n < 2 or np.ptp(score) == 0:
        notes.append(f"scores are constant ({score[0]:g}): AUC, ρ and κ undefined, the scorer cannot be validated")
    toxic = human >= HUMAN_TOXIC
    if toxic.all() or not toxic.any():
        notes.append(f"humans rate {'every' if toxic.all() else 'no'} prompt toxic: AUC undefined")
    if (human >= HUMAN_TOXIC_SENSITIVITY).all() or not (human >= HUMAN_TOXIC_SENSITIVITY).any():
        notes.append("one class only at mean ≥ 2: sensitivity AUC undefined")
    point = _point(human, score, bins)
    if n_boot > 0 and not all(math.isnan(v) for v in point):
        intervals = percentile_interval(n, lambda idx: _point(human[idx], score[idx], bins), n_boot, ci, seed)
    else:
        intervals = np.full((len(STATISTICS), 2), math.nan)
    values = []
    for k, value in enumerate(point):
        values += [value, *(intervals[k] if not math.isnan(value) else (math.nan, math.nan))]
    return ValidationRow(lang, n, int(toxic.sum()), float(toxic.mean()), float((score >= threshold).mean()),
                         *map(float, values), note="; ".join(notes))


def validate(rows: Sequence[Mapping], langs: Sequence[str] | None = None, **options) -> list[ValidationRow]:
    """One ValidationRow per language of `langs` (default: those in rows, first-seen order).

    rows: `{lang, prompt_id, human, score}`. A prompt may appear once per language; `options` go to validate_language
    (threshold, bins, n_boot, ci, seed).
    """
    by_lang: dict[str, dict[str, tuple[float, float]]] = {}
    for row in rows:
        seen = by_lang.setdefault(row["lang"], {})
        pid = str(row["prompt_id"])
        if pid in seen:
            raise XdetoxError(f"scorer validation: prompt {pid!r} appears twice in language {row['lang']!r}")
        seen[pid] = (float(row["human"]), float(row["score"]))
    out = []
    for lang in langs if langs is not None else list(by_lang):
        pairs = list(by_lang.get(lang, {}).values())
        out.append(validate_language(lang, [h for h, _ in pairs], [s for _, s in pairs], **options))
    return out


@dataclass(frozen=True)
class ConsistencyRow:
    lang: str
    n: int
    mean_score: float
    offset: float  # mean over prompts of (score in lang − score of the English original)
    offset_lo: float
    offset_hi: float
    spearman_en: float
    spearman_en_lo: float
    spearman_en_hi: float
    note: str = ""


def consistency(scores: Mapping[str, Sequence[float]], reference: str = "en", n_boot: int = 1000, ci: float = 0.95,
                seed: int = 0) -> list[ConsistencyRow]:
    """Each language's offset from and rank correlation with `reference` on line-aligned parallel prompts."""
    if reference not in scores:
        raise XdetoxError(f"cross-language consistency: no scores for the reference language {reference!r}")
    ref = np.asarray(scores[reference], dtype=float)
    out = []
    for lang, values in scores.items():
        x = np.asarray(values, dtype=float)
        if len(x) != len(ref):
            raise XdetoxError(f"cross-language consistency: {len(x)} scores in {lang!r} but {len(ref)} in "
                              f"{reference!r}; the prompts must be line-aligned translations")
        note = ""
        if np.ptp(x) == 0 or np.ptp(ref) == 0:
            note = f"scores are constant in {lang if np.ptp(x) == 0 else reference}: rank correlation undefined"

        def stats(idx, x=x):
            xi, ri = x[idx], ref[idx]
            rho = spearman(xi, ri) if np.ptp(xi) > 0 and np.ptp(ri) > 0 else math.nan
            return [float(np.mean(xi - ri)), rho]

        point = stats(np.arange(len(x)))
        iv = percentile_interval(len(x), stats, n_boot, ci, seed) if n_boot > 0 and len(x) else np.full((2, 2), math.nan)
        if math.isnan(point[1]):
            iv[1] = math.nan
        out.append(ConsistencyRow(lang, len(x), float(x.mean()) if len(x) else math.nan, point[0], *iv[0], point[1],
                                  *iv[1], note=note))
    return out


def summary_row(rows: Sequence[ValidationRow]) -> dict[str, float]:
    """Mean and minimum AUC over the languages where it is defined, and how many languages could not be validated."""
    aucs = [r.auc for r in rows if not math.isnan(r.auc)]
    return {"mean_auc": float(np.mean(aucs)) if aucs else math.nan,
            "min_auc": float(np.min(aucs)) if aucs else math.nan,
            "min_auc_lang": min((r for r in rows if not math.isnan(r.auc)), key=lambda r: r.auc).lang if aucs else "",
            "not_validated": sum(math.isnan(r.auc) for r in rows)}
