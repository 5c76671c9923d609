"""Check, before any heavy job, that every configured scorer can work — so a wrong endpoint, a missing key or a
damaged cache stops the run at plan time instead of after hours of training and generation.

For each scorer: its config (endpoint, attributes, numbers; model paths of local scorers), the API key in the
environment, the score cache (intact and writable; a cache that does not exist yet must be creatable), and, for a
remote scorer and unless `probe=False` (offline planning), one real request with a known text. Every problem found is
reported in one PreflightError, each line naming the config key or environment variable to fix.

It imports neither torch nor transformers, so the workflow can call it while planning.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import XdetoxError
from .registry import SCORERS, UNCACHED, make_scorer

#: a short, plainly non-toxic English text: any working Perspective-compatible server scores it
PROBE_TEXT = "Thank you for your help, have a nice day."
PROBE_LANG = "en"
DEFAULT_CACHE = "resources/cache/scores.sqlite"
#: overrides config key scoring.preflight for one command (e.g. XDETOX_PREFLIGHT=off on a node without internet)
MODE_ENV = "XDETOX_PREFLIGHT"
#: full: local checks while planning, the probe request when the run starts; local: no probe; off: nothing
MODES = ("full", "local", "off")


class PreflightError(XdetoxError):
    """One or more scorers cannot work as configured."""


def preflight(scoring_config: Mapping[str, Any], scorers: Sequence[str] | None = None, *,
              cache_path: str | os.PathLike = DEFAULT_CACHE, probe: bool = True,
              environ: Mapping[str, str] | None = None) -> list[str]:
    """Check `scorers` (default: scoring_config["scorers"]) and the score cache at `cache_path`; return one line per
    check passed, raise PreflightError listing every problem otherwise."""
    environ = os.environ if environ is None else environ
    scorers = list(scoring_config.get("scorers") or []) if scorers is None else list(scorers)
    problems: list[str] = []
    passed: list[str] = []
    if not scorers:
        problems.append("config key scoring.scorers: is empty; name at least one of " + ", ".join(SCORERS))
    known = [name for name in scorers if name in SCORERS]
    for name in scorers:
        if name not in SCORERS:
            problems.append(f"config key scoring.scorers: unknown scorer {name!r}; choose from {', '.join(SCORERS)}")
    for name in known:
        try:
            passed.extend(_CHECKS[name](scoring_config, environ))
        except XdetoxError as err:
            problems.append(f"{name}: {err}")
    if any(name not in UNCACHED for name in known):
        try:
            passed.append(check_cache(cache_path))
        except XdetoxError as err:
            problems.append(str(err))
    # probes last, and only when everything local is right: no quota spent on a run that cannot go ahead anyway
    if probe and not problems:
        for name in known:
            if name in _PROBES:
                try:
                    passed.append(_PROBES[name](scoring_config))
                except XdetoxError as err:
                    problems.append(f"{name}: {err}")
    if problems:
        raise PreflightError("scoring preflight failed:\n  - " + "\n  - ".join(problems))
    return passed


def preflight_mode(scoring_config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str:
    """The preflight mode: ${MODE_ENV} if set, else config key scoring.preflight (default full)."""
    environ = os.environ if environ is None else environ
    value = environ.get(MODE_ENV, "").strip()
    if value:
        if value not in MODES:
            raise PreflightError(f"environment variable {MODE_ENV}: {value!r} is not one of {', '.join(MODES)}")
        return value
    mode = scoring_config.get("preflight", "full")
    if mode not in MODES:
        raise PreflightError(f"config key scoring.preflight: {mode!r} is not one of {', '.join(MODES)}")
    return mode


def check_cache(path: str | os.PathLike) -> str:
    """An existing cache must be intact and writable; a missing one must be creatable (nothing is created here)."""
    from .cache import CACHE_KEY, CacheError, ScoreCache

    path = Path(path)
    if path.is_dir():
        raise CacheError(f"config key {CACHE_KEY}: {path} is a folder, not a cache file")
    if path.exists():
        cache = ScoreCache(path)
        try:
            cache.verify()
            count = len(cache)
        finally:
            cache.close()
        return f"cache {path}: intact and writable ({count} scores)"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise CacheError(f"config key {CACHE_KEY}: cannot create {path}: {folder} is not a writable folder; point "
                         f"{CACHE_KEY} at a writable path")
    return f"cache {path}: does not exist yet; will be created in {folder}"


def _check_perspective(scoring_config: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    from .perspective import KEY_ENV

    scorer = make_scorer("perspective", scoring_config.get("perspective") or {})  # validates endpoint, attributes and numbers
    lines = [f"perspective: endpoint {scorer.endpoint}, attributes {', '.join(scorer.attributes)}"]
    if not environ.get(KEY_ENV, "").strip():
        raise PreflightError(f"environment variable {KEY_ENV} is not set: export the Perspective API key before "
                             "running, or drop perspective from config key scoring.scorers")
    lines.append(f"perspective: ${KEY_ENV} is set")
    return lines


def _probe_perspective(scoring_config: Mapping[str, Any]) -> str:
    from .perspective import PerspectiveError

    # One text, a short patience: retrying for minutes is for the real run, not for a check at plan time.
    cfg = dict(scoring_config.get("perspective") or {})
    cfg.update(max_retries=min(int(cfg.get("max_retries", 10)), 2),
               backoff_max=min(float(cfg.get("backoff_max", 60.0)), 5.0), breaker_failures=1)
    prober = make_scorer("perspective", cfg)
    started = time.monotonic()
    try:
        score = prober.score([PROBE_TEXT], PROBE_LANG)[0]
    except PerspectiveError as err:
        raise PreflightError(f"the probe request to {prober.endpoint} (config key scoring.perspective.endpoint) "
                             f"failed: {err}") from None
    finally:
        prober.close()
    return (f"perspective: probe {PROBE_TEXT!r} scored TOXICITY {score.toxicity:.3f} in "
            f"{time.monotonic() - started:.2f} s")


def _local_path_missing(value: str) -> bool:
    """A value written as a local path (absolute, ./, ../, ~) that does not exist; a hub id is not checked here."""
    if Path(value).expanduser().exists():
        return False
    return value.startswith(("/", ".", "~"))


def _check_hf_classifier(scoring_config, environ) -> list[str]:
    model = (scoring_config.get("hf_classifier") or {}).get("model")
    if not model:
        raise PreflightError("config key scoring.hf_classifier.model: required when scorers include 'hf-classifier'")
    if _local_path_missing(str(model)):
        raise PreflightError(f"config key scoring.hf_classifier.model: {model}: no such folder")
    config_file = Path(model).expanduser() / "config.json"
    if config_file.is_file():  # a local checkpoint: its labels are known now, before any job
        import json

        from .labels import resolve_label

        try:
            id2label = json.loads(config_file.read_text(encoding="utf-8")).get("id2label") or {}
        except ValueError as err:
            raise PreflightError(f"{config_file}: not valid JSON ({err})") from None
        index = resolve_label(id2label, (scoring_config.get("hf_classifier") or {}).get("toxic_label", 1), str(model))
        return [f"hf-classifier: model {model}, toxic label {index}={id2label.get(str(index))!r}"]
    return [f"hf-classifier: model {model}"]


def _check_detoxify(scoring_config, environ) -> list[str]:
    checkpoint = (scoring_config.get("detoxify") or {}).get("checkpoint")
    if not checkpoint:
        raise PreflightError("config key scoring.detoxify.checkpoint: required when scorers include 'detoxify'")
    if not Path(checkpoint).expanduser().is_file():
        raise PreflightError(f"config key scoring.detoxify.checkpoint: {checkpoint}: file not found")
    return [f"detoxify: checkpoint {checkpoint}"]


def _check_lexicon(scoring_config, environ) -> list[str]:
    word_lists = (scoring_config.get("lexicon") or {}).get("word_lists")
    if word_lists and not Path(word_lists).is_dir():
        raise PreflightError(f"config key scoring.lexicon.word_lists: {word_lists}: no such folder")
    return [f"lexicon: {'word lists in ' + str(word_lists) if word_lists else 'built-in word lists'}"]


def _check_learned(scoring_config, environ) -> list[str]:
    # its encoder is resolved and checked by the workflow (a model of `models:` or a folder), its heads trained there
    encoder = (scoring_config.get("learned") or {}).get("encoder")
    return [f"learned: heads trained by the workflow on {'encoder ' + str(encoder) if encoder else 'the first model'}"]


_CHECKS = {"perspective": _check_perspective, "hf-classifier": _check_hf_classifier, "detoxify": _check_detoxify,
           "lexicon": _check_lexicon, "learned": _check_learned}
#: scorers that answer from a remote service: one real request each
_PROBES = {"perspective": _probe_perspective}
