"""Sampling several languages with one backend (one model load), through the content-addressed cache.

`ensure_languages` is the workflow's per-(model, stage) job: it finds which languages' generation files are not in
the cache yet and samples all of them with one backend (one model load; the HF backend batches each language on its
own, so a file does not depend on which other languages were sampled with it); languages already cached cost
nothing. `materialize_language` is the per-language job: it
copies its cache entry to `results/generations/{model}/{stage}/{lang}.jsonl`. If the entry is missing (the per-stage
job did not run: one language's prompts changed, its entry was deleted, or every prompts file was remade), it takes
the stage's lock, samples every language of the stage that is missing from the cache in one backend call, and
copies its own; per-language jobs running at the same time wait for the lock and then find their entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from pathlib import Path
from typing import Mapping

from .. import XdetoxError
from ..io import read_jsonl, write_jsonl
from . import base
from .base import Sampling
from .cache import GenerationCache, generation_key, model_fingerprint

log = logging.getLogger("xdetox.generation")


def sample_languages(model_dir: str, prompt_sets: Mapping[str, list[dict]], generation: dict,
                     threads: int | None = None, backend=None) -> dict[str, list[dict]]:
    """Generation records (with detected language) per language, from one backend call."""
    from ..langid import annotate
    from .registry import make_backend

    sampling = Sampling.from_config(generation)
    flat = [p for prompts in prompt_sets.values() for p in prompts]
    if not flat:
        return {lang: [] for lang in prompt_sets}
    backend = backend or make_backend(generation, threads=threads)
    start = time.perf_counter()
    if getattr(backend, "mixes_languages", False):
        records = backend.generate(model_dir, flat, sampling)
    else:
        # one call per language, same model: in bf16 a sequence's logits depend slightly on the batch it is in,
        # so a language's batches must not depend on which other languages are sampled alongside it
        records = [r for prompts in prompt_sets.values() if prompts
                   for r in backend.generate(model_dir, prompts, sampling)]
    expected = len(flat) * sampling.n_samples
    if len(records) != expected:
        raise XdetoxError(f"{model_dir}: backend returned {len(records)} generations, expected {expected}")
    seconds = time.perf_counter() - start
    tokens = sum(r["n_tokens"] for r in records)
    log.info("sampled %d continuations (%d tokens) for %d prompts in %s in %.1f s (%.0f tokens/s)",
             len(records), tokens, len(flat), ", ".join(prompt_sets), seconds, tokens / max(seconds, 1e-9))
    annotate(records)
    out, i = {}, 0
    for lang, prompts in prompt_sets.items():
        n = len(prompts) * sampling.n_samples
        out[lang] = records[i : i + n]
        i += n
    return out


@contextlib.contextmanager
def stage_lock(cache: GenerationCache):
    """Exclusive lock of one (model, stage) namespace of the cache: one sampler at a time, others wait."""
    cache.root.mkdir(parents=True, exist_ok=True)
    with open(cache.root / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another job sampling into %s", cache.root)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_prompts(path: str) -> list[dict]:
    return read_jsonl(path, ("id", "lang", "text"))


def _fill(cache: GenerationCache, model_dir: str, prompt_files: Mapping[str, str], generation: dict,
          threads: int | None, backend) -> tuple[dict, dict]:
    """Sample every language missing from the cache in one backend call (call under the stage lock)."""
    model_fp = model_fingerprint(model_dir)
    keys, missing = {}, {}
    for lang, path in prompt_files.items():
        key, ingredients = generation_key(model_dir, path, lang, generation, model_fp)
        keys[lang] = (key, ingredients)
        if cache.get(lang, key) is None:
            missing[lang] = _read_prompts(path)
    cached = [lang for lang in prompt_files if lang not in missing]
    log.info("generation cache %s: %d language(s) cached (%s), %d to sample (%s)", cache.root, len(cached),
             ", ".join(cached) or "-", len(missing), ", ".join(missing) or "-")
    if missing:
        for lang, records in sample_languages(model_dir, missing, generation, threads, backend).items():
            cache.put(lang, keys[lang][0], records, keys[lang][1])
    return keys, missing


def ensure_languages(model_dir: str, prompt_files: Mapping[str, str], generation: dict, cache_dir: str,
                     namespace: str = "", threads: int | None = None, backend=None) -> dict:
    """Fill the cache for every language (one model load for all missing ones); returns a manifest."""
    start = time.perf_counter()
    loads_before = base.MODEL_LOADS
    cache = GenerationCache(cache_dir, namespace)
    with stage_lock(cache):
        keys, missing = _fill(cache, model_dir, prompt_files, generation, threads, backend)
    return {
        "model_dir": str(model_dir),
        "cache": str(cache.root),
        "languages": {lang: {"key": keys[lang][0], "sampled": lang in missing} for lang in prompt_files},
        "model_loads": base.MODEL_LOADS - loads_before,
        "seconds": round(time.perf_counter() - start, 2),
    }


def materialize_language(model_dir: str, prompts_path: str, lang: str, out: str, generation: dict,
                         cache_dir: str | None, namespace: str = "", threads: int | None = None,
                         backend=None, siblings: Mapping[str, str] | None = None) -> int:
    """Write one language's generation file from the cache; on a miss, first sample (under the stage lock) this
    language and every sibling language (lang -> prompts file) missing from the cache, with one model load."""
    if cache_dir is None:
        records = sample_languages(model_dir, {lang: _read_prompts(prompts_path)}, generation, threads, backend)[lang]
        return write_jsonl(out, records)
    cache = GenerationCache(cache_dir, namespace)
    key, _ = generation_key(model_dir, prompts_path, lang, generation)
    entry = cache.get(lang, key)
    if entry is None:
        log.info("%s: not in the generation cache (%s); sampling the stage's missing languages here", lang, key)
        files = {lang: prompts_path}
        files.update({other: path for other, path in (siblings or {}).items()
                      if other != lang and Path(path).is_file()})
        with stage_lock(cache):
            _fill(cache, model_dir, files, generation, threads, backend)
        entry = cache.get(lang, key)
    else:
        log.info("%s: generation cache hit %s", lang, entry)
    GenerationCache.materialize(entry, out)
    return sum(1 for line in Path(out).read_text(encoding="utf-8").splitlines() if line.strip())
