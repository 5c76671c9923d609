"""Retrieval as a predictor of cross-lingual detoxification: %EMT change vs retrieval (paper §5, App. E;
Figures 4, 13–15).

%EMT change of language X = (EMT before DPO − EMT after DPO) / EMT before, a fraction (the paper's y-axis runs
0.4–1.0 for mGPT), from `results/metrics/{scorer}/{model}/{base,dpo}/{lang}.json` key "emt". It is joined with the
retrieval summary per language, and Pearson r and Spearman rho (with two-sided p-values, scipy) are computed over the
non-English languages (English is the DPO training language; the paper plots 16 points).

Missing data is an error: a language with retrieval measures but no toxicity results (or the other way round) stops
the step with a message naming the language and stage. An undefined change — EMT before DPO of 0 (no toxicity to
reduce: the ratio is 0/0 or x/0) or a non-finite EMT — is **excluded from the correlation with a note** in the
outputs (`excluded` in the JSON, `note` in the CSV); it is not an error because a small sample can legitimately
score 0 under a crude scorer. With fewer than 3 usable languages the coefficients are reported as null with a note.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from .. import XdetoxError
from .measures import CONFIG_MEASURE, MEASURES

PIVOT = "en"
MIN_POINTS = 3


def emt_change(before: float, after: float) -> float | None:
    """(before − after) / before; None where it is undefined (before is 0 or either value is not finite)."""
    if before is None or after is None or not (math.isfinite(before) and math.isfinite(after)) or before == 0:
        return None
    return (before - after) / before


def _nan_to_none(value):
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value


def correlate(x, y) -> dict:
    """Pearson r and Spearman rho with two-sided p-values; null (with a note) when fewer than 3 points or constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise XdetoxError(f"correlate: {len(x)} x values but {len(y)} y values")
    out = {"n": int(len(x)), "pearson_r": None, "pearson_p": None, "spearman_rho": None, "spearman_p": None}
    if len(x) < MIN_POINTS:
        out["note"] = f"fewer than {MIN_POINTS} languages: no correlation"
        return out
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        out["note"] = "a constant variable: correlation undefined"
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pearson = stats.pearsonr(x, y)
        spearman = stats.spearmanr(x, y)
    out.update(pearson_r=_nan_to_none(float(pearson.statistic)), pearson_p=_nan_to_none(float(pearson.pvalue)),
               spearman_rho=_nan_to_none(float(spearman.statistic)), spearman_p=_nan_to_none(float(spearman.pvalue)))
    return out


def join(summary: dict[str, dict], base: dict[str, dict], dpo: dict[str, dict]) -> list[dict]:
    """One row per language: EMT before/after, %EMT change, every averaged retrieval measure, and whether it is used.

    `summary`: retrieval summary per non-English language (`measures.retrieval_measures`); `base`/`dpo`: toxicity
    metrics per language. English, when present in the toxicity results, is reported but never correlated.
    """
    langs = [lang for lang in summary if lang != PIVOT]
    for stage, metrics in (("base", base), ("dpo", dpo)):
        missing = [lang for lang in langs if lang not in metrics]
        if missing:
            raise XdetoxError(
                f"no toxicity results ({stage}) for {', '.join(missing)}: retrieval was measured for these languages "
                f"but results/metrics/<scorer>/<model>/{stage}/<lang>.json is missing"
            )
    extra = [lang for lang in base if lang != PIVOT and lang not in summary]
    if extra:
        raise XdetoxError(f"toxicity results for {', '.join(extra)} but no retrieval measures for them")
    rows = []
    for lang in ([PIVOT] if PIVOT in base and PIVOT in dpo else []) + langs:
        try:
            before, after = float(base[lang]["emt"]), float(dpo[lang]["emt"])
        except (KeyError, TypeError, ValueError):
            raise XdetoxError(f"{lang}: toxicity results have no numeric 'emt'") from None
        change = emt_change(before, after)
        row = {"lang": lang, "emt_base": before, "emt_dpo": after, "emt_change": change}
        if lang == PIVOT:
            row.update({f"{m}_avg": None for m in MEASURES}, used=False,
                       note="English: the DPO training language, not correlated (as the paper)")
        else:
            row.update({f"{m}_avg": summary[lang][f"{m}_avg"] for m in MEASURES})
            row["used"] = change is not None
            row["note"] = "" if change is not None else (
                "excluded: EMT before DPO is 0, %EMT change undefined" if before == 0
                else "excluded: non-finite EMT")
        rows.append(row)
    return rows


def predictor(summary: dict[str, dict], base: dict[str, dict], dpo: dict[str, dict], measure: str = "accuracy") -> dict:
    """Rows plus the correlation for every measure; `selected` names the one the configured `measure` picks."""
    if measure not in CONFIG_MEASURE:
        raise XdetoxError(f"unknown retrieval measure {measure!r}; choose from {', '.join(CONFIG_MEASURE)}")
    rows = join(summary, base, dpo)
    used = [r for r in rows if r["used"]]
    correlations = {
        m: correlate([r[f"{m}_avg"] for r in used], [r["emt_change"] for r in used]) for m in MEASURES
    }
    return {
        "measure": measure,
        "selected": CONFIG_MEASURE[measure],
        "correlation": correlations[CONFIG_MEASURE[measure]],
        "correlations": correlations,
        "languages": [r["lang"] for r in used],
        "excluded": {r["lang"]: r["note"] for r in rows if not r["used"]},
        "rows": rows,
        "definitions": {
            "emt_change": "(EMT base - EMT dpo) / EMT base, a fraction",
            "acc_en2x": "top-1 retrieval accuracy en->x by cosine over all candidates, averaged over layers",
            "acc_x2en": "top-1 retrieval accuracy x->en, averaged over layers",
            "acc_mean": "mean of acc_en2x and acc_x2en",
            "paired_cosine": "mean cosine of each en sentence with its translation, averaged over layers: "
                             "the reference code's 'retrieval acc'",
        },
    }
