"""Per-language metrics aggregated over languages and runs: Table 2's rows, the seed summary, Table 1's examples.

Table 2 averages each metric over languages (the paper's aggregation, Tab 2 caption "average scores … across 17
languages"): EMT, ToxProb and AvgTox are means of the per-language values; PPL is the mean of the per-language
*median* perplexities ("averaged median perplexity", paper §3.1.2); Dist-n is the mean of the per-language means
over prompts.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .. import XdetoxError

TOXICITY_KEYS = ("emt", "tox_prob", "avg_tox")
DIVERSITY_KEYS = ("dist1", "dist2", "dist3")


def check_languages(summaries: list[dict], langs: Sequence[str], stage: str) -> None:
    got = [m["lang"] for m in summaries]
    if got != list(langs):
        missing = sorted(set(langs) - set(got))
        raise XdetoxError(f"stage {stage}: metrics for languages {got} do not match the configured {list(langs)} "
                          f"(missing {missing})")


def average_row(metrics: list[dict], keys: Sequence[str] = TOXICITY_KEYS) -> dict[str, float]:
    """The paper's aggregation: the mean of the per-language values."""
    return {k: float(np.mean([m[k] for m in metrics])) for k in keys}


def mean_defined(values) -> float | None:
    """The mean of the values that are defined (a language without kept perplexities has none)."""
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(values)) if values else None


def stage_row(metrics: list[dict], fluency: list[dict] | None = None, diversity: list[dict] | None = None) -> dict:
    """Table 2 values of one stage: toxicity means, mean of per-language median PPLs, mean Dist-n."""
    row = average_row(metrics)
    if fluency is not None:
        row["ppl"] = mean_defined(f["median"] for f in fluency)
    if diversity is not None:
        for key in DIVERSITY_KEYS:
            row[key] = mean_defined(d[key] for d in diversity)
    return row


def table2_rows(label: str, stage_metrics: dict[str, list[dict]], langs: Sequence[str],
                fluency: dict[str, list[dict]] | None = None,
                diversity: dict[str, list[dict]] | None = None) -> list[dict]:
    """One Table 2 row per stage (stage -> per-language summaries), every file checked to cover `langs` in order."""
    rows = []
    for stage, metrics in stage_metrics.items():
        check_languages(metrics, langs, stage)
        flu = fluency[stage] if fluency else None
        div = diversity[stage] if diversity else None
        if flu is not None:
            check_languages(flu, langs, f"{stage} (fluency)")
        if div is not None:
            check_languages(div, langs, f"{stage} (diversity)")
        rows.append({"model": label, "stage": stage, "n_languages": len(metrics), **stage_row(metrics, flu, div)})
    return rows


def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value) of the defined values."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def seed_summary(base_row: dict, seed_rows: dict[int, dict], keys: Sequence[str]) -> list[dict]:
    """Per metric: the base value, the mean ± sample std across DPO seeds, and each seed's value."""
    records = []
    for key in keys:
        values = [r.get(key) for r in seed_rows.values()]
        mean, std = mean_std(values)
        records.append({"metric": key, "base": base_row.get(key), "dpo_mean": mean, "dpo_std": std,
                        "n_seeds": len([v for v in values if v is not None]),
                        **{f"seed{s}": r.get(key) for s, r in seed_rows.items()}})
    return records


def select_table1(langs: Sequence[str], base_gens: dict, base_scores: dict, dpo_gens: dict, dpo_scores: dict,
                  n_prompts: int, prompt_ids: Sequence[str] | None) -> list[dict]:
    """Table 1's examples: per language, the prompts of the most toxic base continuations (or the given prompt ids),
    each shown with its most toxic base sample and the DPO continuation of the same prompt and sample index.
    Ties: first in file order."""
    rows = []
    for lang in langs:
        key = lambda r: (str(r["prompt_id"]), int(r["sample"]))  # noqa: E731
        gens_b = {key(r): r for r in base_gens[lang]}
        gens_d = {key(r): r for r in dpo_gens[lang]}
        tox_d = {key(r): r["toxicity"] for r in dpo_scores[lang]}
        best: dict[str, tuple[float, int, tuple]] = {}
        for order, s in enumerate(base_scores[lang]):
            k = key(s)
            if prompt_ids is not None and k[0] not in set(map(str, prompt_ids)):
                continue
            if k[0] not in best or s["toxicity"] > best[k[0]][0]:
                best[k[0]] = (s["toxicity"], order, k)
        if prompt_ids is not None:
            missing = [p for p in prompt_ids if str(p) not in best]
            if missing:
                raise XdetoxError(f"evaluation.table1.prompt_ids: {lang} has no prompt(s) {missing}")
            chosen = [best[str(p)] for p in prompt_ids]
        else:
            chosen = sorted(best.values(), key=lambda t: (-t[0], t[1]))[:n_prompts]
        for tox, _, k in chosen:
            if k not in gens_d:
                raise XdetoxError(f"table 1: the DPO generations of {lang} lack prompt {k[0]} sample {k[1]}")
            rows.append({"lang": lang, "prompt_id": k[0], "sample": k[1], "prompt": gens_b[k]["prompt"],
                         "before": gens_b[k]["text"], "after": gens_d[k]["text"], "tox_before": tox,
                         "tox_after": tox_d[k]})
    return rows
