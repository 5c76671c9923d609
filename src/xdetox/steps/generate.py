"""Steps of workflow/rules/generate.smk: sampling with one model load per (model, stage), language identification.

`generate_stage` (one job per model and stage) fills the content cache (xdetox.cache) with every language missing
from it, with one model load, and writes a manifest; each `generate` job (one per language) copies its language's
entry to results/generations/{model}/{stage}/{lang}.jsonl, or, on a miss (its prompts changed alone, its entry was
deleted), samples it and the stage's other missing languages under the stage's lock. An entry's key covers the
checkpoint, the prompts file, the language, the generation settings and the generation code (xdetox.generation.runner),
so a hit is the bytes a fresh run would write.

`langid` identifies the language of each continuation beside the generation file (not inside it: editing language
identification or its table never resamples), and `langid_table` summarises it per model.

A module serves several rules, and every job imports it: libraries a light rule does not need (torch,
transformers, matplotlib: 5-15 s per job) are imported inside the steps that use them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Mapping

from ..cache import ContentCache, content_key, file_sha256, materialize, model_fingerprint
from ..generation import base
from ..generation.base import Sampling
from ..generation.registry import make_backend
from ..generation.runner import generation_ingredients, sample_languages
from ..io import read_jsonl, write_json, write_jsonl
from ..langid import identify, langid_rows

log = logging.getLogger("xdetox.generation")

PROMPT_FIELDS = ("id", "lang", "text")


class _Sampler:
    """The cache's key and compute functions for one (model, stage): the backend (the model) is loaded on the
    first miss only, so a job whose languages are all cached loads nothing."""

    def __init__(self, model_dir: str, generation: dict, threads: int | None):
        self.model_dir, self.generation, self.threads = model_dir, generation, threads
        self.sampling = Sampling.from_config(generation)
        self.model_fp = model_fingerprint(model_dir)
        self.backend = None

    def key(self, lang: str, prompts_path: str) -> tuple[str, dict]:
        ingredients = generation_ingredients(self.model_fp, file_sha256(prompts_path), lang, self.generation)
        return content_key(ingredients), ingredients

    def compute(self, missing: Mapping[str, str]) -> dict[str, list[dict]]:
        if self.backend is None:
            self.backend = make_backend(self.generation, threads=self.threads)
        prompt_sets = {lang: read_jsonl(path, PROMPT_FIELDS) for lang, path in missing.items()}
        return sample_languages(self.model_dir, prompt_sets, self.sampling, self.backend)


def generate_stage(model_dir: str, prompt_files: Mapping[str, str], manifest_out: str, generation: dict,
                   cache_dir: str, namespace: str, threads: int | None = None) -> dict:
    """Every language of one (model, stage) into the cache with one model load (only the missing ones); the manifest
    says, per language, its cache key and whether this job sampled it, and how many models this job loaded."""
    start = time.perf_counter()
    loads_before = base.MODEL_LOADS
    cache = ContentCache(cache_dir, namespace)
    sampler = _Sampler(model_dir, generation, threads)
    entries = cache.ensure(dict(prompt_files), sampler.key, sampler.compute)
    manifest = {
        "model_dir": str(model_dir),
        "cache": str(cache.root),
        "languages": {lang: {"key": e.key, "sampled": e.computed} for lang, e in entries.items()},
        "model_loads": base.MODEL_LOADS - loads_before,
        "seconds": round(time.perf_counter() - start, 2),
    }
    write_json(manifest_out, manifest)
    return manifest


def generate(model_dir: str, prompts_path: str, lang: str, out: str, generation: dict, cache_dir: str,
             namespace: str, siblings: Mapping[str, str], threads: int | None = None) -> int:
    """One language's generation file, copied from the cache; on a miss sampled here together with the `siblings`
    (lang -> prompts file of the stage's other languages) missing from the cache, in one model load."""
    cache = ContentCache(cache_dir, namespace)
    companions = {other: path for other, path in siblings.items() if other != lang and Path(path).is_file()}
    sampler = _Sampler(model_dir, generation, threads)
    entry = cache.get(lang, prompts_path, sampler.key, sampler.compute, companions)
    materialize(entry.path, out)
    n = sum(1 for line in Path(out).read_text(encoding="utf-8").splitlines() if line.strip())
    log.info("%s: %d generations written to %s (%s)", lang, n, out, "sampled" if entry.computed else "cached")
    return n


def langid(generations_path: str, out: str) -> int:
    """The language of every continuation of one (model, stage, language): {prompt_id, sample, detected_lang,
    lang_confidence}, one record per generation, same order."""
    return write_jsonl(out, identify(read_jsonl(generations_path, ("prompt_id", "sample", "text"))))


def langid_table(langid_files: Mapping[tuple[str, str], str], csv_out: str, md_out: str, png_out: str, model: str,
                 label: str) -> list[dict]:
    """Per (stage, language): share of continuations in the prompt's language and in English (CSV, MD, PNG)."""
    from ..report.langid import langid_csv, langid_figure, langid_markdown

    identified = {key: read_jsonl(path, ("detected_lang", "lang_confidence")) for key, path in langid_files.items()}
    rows = langid_rows(model, identified)
    langid_csv(rows, csv_out)
    langid_markdown(rows, label, md_out)
    langid_figure(rows, label, png_out)
    return rows
