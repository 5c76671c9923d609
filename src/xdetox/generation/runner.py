"""Sampling several languages with one backend (one model load), and what identifies the result.

`sample_languages` is what the per-(model, stage) job calls on a cache miss: every missing language in one backend
(one model load; the HF backend batches each language on its own, so a language's records do not depend on which
other languages were sampled with it). `generation_ingredients` and `code_fingerprint` say what a language's
generation file is a function of: the content cache (xdetox.cache) keys entries on them. Language identification is
not generation: it is its own rule (xdetox.steps.generate.langid), so editing it never resamples.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from .. import XdetoxError
from ..cache import code_fingerprint as fingerprint
from .base import Sampling

log = logging.getLogger("xdetox.generation")

CACHE_VERSION = 1
#: the code a generation file is a function of: this package and the model-loading policy (dtype, EOS)
SOURCES = sorted(Path(__file__).resolve().parent.glob("*.py")) + [Path(__file__).resolve().parents[1] / "models.py"]


@lru_cache(maxsize=4)
def code_fingerprint(backend: str) -> str:
    packages = ["vllm", "torch"] if backend == "vllm" else ["torch", "transformers"]
    return fingerprint(SOURCES, packages)


def key_settings(generation: dict) -> dict:
    """The generation settings a file depends on: all of them (batch_size too: in bf16 a sequence's logits depend
    slightly on its batch), less the vLLM options when the HF backend samples."""
    settings = dict(generation)
    if settings["backend"] != "vllm":
        settings.pop("vllm", None)
    return settings


def generation_ingredients(model_fp: str, prompts_sha256: str, lang: str, generation: dict) -> dict:
    settings = key_settings(generation)
    return {
        "cache_version": CACHE_VERSION,
        "model": model_fp,
        "prompts": prompts_sha256,
        "lang": lang,
        "generation": settings,
        "code": code_fingerprint(settings["backend"]),
    }


def sample_languages(model_dir: str, prompt_sets: Mapping[str, list[dict]], sampling: Sampling,
                     backend) -> dict[str, list[dict]]:
    """Generation records per language, from one backend (one model load)."""
    flat = [p for prompts in prompt_sets.values() for p in prompts]
    if not flat:
        return {lang: [] for lang in prompt_sets}
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
    out, i = {}, 0
    for lang, prompts in prompt_sets.items():
        n = len(prompts) * sampling.n_samples
        out[lang] = records[i : i + n]
        i += n
    return out
