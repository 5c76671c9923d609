"""Build a scorer from the validated `scoring:` config section, with or without the persistent cache.

The lexicon scorer is not cached: it is a pure function of the text that runs in microseconds, so storing its
answers would only grow the cache file (and a new word list would need a version bump anyway, which it has).
"""

from __future__ import annotations

from typing import Any, Mapping

from .base import Scorer, ScoringError

SCORERS = ("perspective", "hf-classifier", "detoxify", "lexicon")
#: scorers answered directly, without the cache (see the module docstring)
UNCACHED = frozenset({"lexicon"})


def make_scorer(name: str, scoring_config: Mapping[str, Any]) -> Scorer:
    """The scorer `name` configured by `scoring_config` (config["scoring"], defaults filled by validate_config)."""
    if name == "perspective":
        from .perspective import DEFAULT_URL, REFERENCE_ATTRIBUTES, PerspectiveScorer

        cfg = dict(scoring_config.get("perspective") or {})
        return PerspectiveScorer(
            cfg.get("url", DEFAULT_URL),
            rate=cfg.get("rate", 1.0),
            concurrency=cfg.get("concurrency", 1),
            max_retries=cfg.get("max_retries", 10),
            timeout=cfg.get("timeout", 30.0),
            attributes=cfg.get("attributes", REFERENCE_ATTRIBUTES),
            backoff_base=cfg.get("backoff_base", 1.0),
            backoff_max=cfg.get("backoff_max", 60.0),
        )
    if name == "hf-classifier":
        from .hf_classifier import HFClassifierScorer

        cfg = dict(scoring_config.get("hf_classifier") or {})
        return HFClassifierScorer(
            cfg.get("model"),
            toxic_label=cfg.get("toxic_label", 1),
            batch_size=cfg.get("batch_size", 32),
            max_length=cfg.get("max_length", 256),
            device=cfg.get("device"),
        )
    if name == "detoxify":
        from .detoxify_scorer import DetoxifyScorer

        cfg = dict(scoring_config.get("detoxify") or {})
        return DetoxifyScorer(
            cfg.get("checkpoint"),
            model_type=cfg.get("model_type", "multilingual"),
            batch_size=cfg.get("batch_size", 32),
            device=cfg.get("device"),
            huggingface_config_path=cfg.get("huggingface_config_path"),
        )
    if name == "lexicon":
        from .lexicon import LexiconScorer

        return LexiconScorer((scoring_config.get("lexicon") or {}).get("word_lists"))
    raise ScoringError(f"unknown scorer {name!r}; choose from {', '.join(SCORERS)}")


def open_cached_scorer(name: str, scoring_config: Mapping[str, Any]) -> Scorer:
    """`make_scorer` behind the persistent cache at scoring_config["cache"]; close() it to close both.

    Returns a cache.CachedScorer (its `.stats` dict counts hits, misses and requests), except for the uncached lexicon.
    """
    scorer = make_scorer(name, scoring_config)
    if name in UNCACHED:
        return scorer
    from .cache import CachedScorer, ScoreCache

    path = scoring_config.get("cache") or "resources/score-cache.sqlite"
    try:
        cache = ScoreCache(path)
    except BaseException:
        scorer.close()
        raise
    return CachedScorer(scorer, cache)
