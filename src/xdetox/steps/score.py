"""Steps of workflow/rules/score.smk: toxicity of every continuation per scorer, and the agreement of two scorers.

A module serves several rules, and every job imports it: libraries a light rule does not need (torch,
transformers, matplotlib: 5-15 s per job) are imported inside the steps that use them.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

from ..io import read_jsonl, write_jsonl
from ..scoring.agreement import Agreement, agreement_by_language
from ..scoring.base import score_records
from ..scoring.registry import open_cached_scorer

log = logging.getLogger("xdetox.scoring")

GENERATION_FIELDS = ("prompt_id", "lang", "sample", "text")


def score(generations_path: str, out: str, scorer: str, settings: Mapping[str, Any], cache_path: str) -> dict:
    """One score record {prompt_id, sample, scorer, toxicity, attributes} per generation, same order.

    `settings`: the scorer's own config section; `cache_path`: the persistent score cache. On a ScoringError nothing
    is written, but every score obtained so far is in the cache, so a rerun asks only for the rest. Returns the
    scorer's counts (hits, misses, requests, …), also logged.
    """
    generations = read_jsonl(generations_path, required=GENERATION_FIELDS)
    cached = open_cached_scorer(scorer, settings, cache_path)
    try:
        records = score_records(generations, cached)
    finally:
        stats = dict(getattr(cached, "stats", {}) or {"texts": len(generations)})
        log.info("%s: %s", scorer, ", ".join(f"{k}={v}" for k, v in stats.items()))
        cached.close()
    write_jsonl(out, records)
    return stats


def agreement(paths_a: Sequence[str], paths_b: Sequence[str], langs: Sequence[str], csv_out: str, md_out: str,
              png_out: str, scorer_a: str, scorer_b: str, threshold: float) -> list[Agreement]:
    """Per language and pooled: Pearson, Spearman and ROC-AUC of scorer B against scorer A's labels."""
    from ..report.agreement import agreement_tables

    records = {lang: (read_jsonl(a), read_jsonl(b)) for lang, a, b in zip(langs, paths_a, paths_b)}
    rows = agreement_by_language(records, threshold)
    agreement_tables(rows, csv_out, md_out, png_out, scorer_a, scorer_b)
    return rows
