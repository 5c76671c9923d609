"""Build a scorer from its section of the validated `scoring:` config, with or without the persistent cache.

Each scorer receives exactly its own section (`scoring.perspective`, `scoring.hf_classifier`, …, defaults filled by
the config schema), whose keys are its constructor's arguments: adding a scorer is one class and one schema section.

The learned scorer puts the cache in front of each of its cross-fitted heads (the fold is part of the cache key), so
it is built with the cache rather than wrapped in it; its section also carries `heads`, the trained artifact the
workflow passes in. The lexicon scorer is not cached: it is a pure function of the text that runs in microseconds, so storing its
answers would only grow the cache file (and a new word list would need a version bump anyway, which it has).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from .base import Scorer, ScoringError

SCORERS = ("perspective", "hf-classifier", "detoxify", "lexicon", "learned")
#: scorers answered directly, without the cache (see the module docstring)
UNCACHED = frozenset({"lexicon"})
#: scorers that load a model (seconds per load): the workflow loads them once per (model, stage), rule score_stage
LOADS_A_MODEL = frozenset({"learned", "hf-classifier", "detoxify"})


#: keys of a scorer's section that the workflow reads (plan-time cost and budget), not the scorer
WORKFLOW_KEYS = {"perspective": frozenset({"budget_hours", "over_budget"})}


def scorer_arguments(name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A scorer's section without the keys only the workflow reads: what builds the scorer (and what its score jobs
    depend on, so raising the Perspective budget reruns nothing)."""
    skip = WORKFLOW_KEYS.get(name, frozenset())
    return {k: v for k, v in settings.items() if k not in skip}


def section(name: str) -> str:
    """The config section of a scorer: `scoring.hf_classifier` for hf-classifier."""
    return name.replace("-", "_")


def make_scorer(name: str, settings: Mapping[str, Any]) -> Scorer:
    """The scorer `name` built from its config section `settings`."""
    if name == "perspective":
        from .perspective import PerspectiveScorer as cls
    elif name == "hf-classifier":
        from .hf_classifier import HFClassifierScorer as cls
    elif name == "detoxify":
        from .detoxify_scorer import DetoxifyScorer as cls
    elif name == "lexicon":
        from .lexicon import LexiconScorer as cls
    elif name == "learned":
        return _learned(settings, cache=None)
    else:
        raise ScoringError(f"unknown scorer {name!r}; choose from {', '.join(SCORERS)}")
    return cls(**scorer_arguments(name, settings))


def open_cached_scorer(name: str, settings: Mapping[str, Any], cache_path: str | os.PathLike) -> Scorer:
    """`make_scorer` behind the persistent score cache at `cache_path`; close() it to close both.

    Returns a cache.CachedScorer (its `.stats` dict counts hits, misses and requests), except for the uncached lexicon
    and the learned scorer (cached per head).
    """
    if name == "learned":
        from .cache import ScoreCache

        cache = ScoreCache(cache_path)
        try:
            return _learned(settings, cache=cache)
        except BaseException:
            cache.close()
            raise
    scorer = make_scorer(name, settings)
    if name in UNCACHED:
        return scorer
    from .cache import CachedScorer, ScoreCache

    try:
        cache = ScoreCache(cache_path)
    except BaseException:
        scorer.close()
        raise
    return CachedScorer(scorer, cache)


def _learned(settings: Mapping[str, Any], cache) -> Scorer:
    from .learned.model import CONFIG_KEYS
    from .learned.scorer import LearnedScorer

    for key in ("heads", "encoder"):
        if not settings.get(key):
            raise ScoringError(f"config key scoring.learned.{key}: required when scorers include 'learned'")
    return LearnedScorer(settings["heads"], settings["encoder"],
                         configured={k: settings[k] for k in CONFIG_KEYS if k in settings},
                         batch_tokens=settings.get("batch_tokens", 2048), threads=settings.get("threads"), cache=cache)
