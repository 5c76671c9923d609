"""Score one generations file into one scores file (the body of the workflow's score rule)."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

from ..io import read_jsonl, write_jsonl
from .base import score_records
from .registry import open_cached_scorer

log = logging.getLogger("xdetox.scoring")

GENERATION_FIELDS = ("prompt_id", "lang", "sample", "text")


def score_generations_file(generations_path: str | os.PathLike, scores_path: str | os.PathLike, scorer_name: str,
                           scoring_config: Mapping[str, Any]) -> dict:
    """Read generations, score each continuation with `scorer_name` (cached), write the scores file atomically.

    Output records `{prompt_id, sample, scorer, toxicity, attributes}`, one per generation, same order. Returns the
    scorer's counts (hits, misses, requests, …) for the log. On a ScoringError nothing is written, but every score
    obtained so far is in the cache, so a rerun asks only for the rest.
    """
    generations = read_jsonl(generations_path, required=GENERATION_FIELDS)
    scorer = open_cached_scorer(scorer_name, scoring_config)
    try:
        records = score_records(generations, scorer)
    finally:
        stats = dict(getattr(scorer, "stats", {}) or {"texts": len(generations)})
        log.info("%s: %s", scorer_name, ", ".join(f"{k}={v}" for k, v in stats.items()))
        scorer.close()
    write_jsonl(scores_path, records)
    return stats
