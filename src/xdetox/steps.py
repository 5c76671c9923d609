"""One function per workflow step: read input files, call the library, write output files atomically.

The Snakemake scripts are thin adapters around these; each is callable (and tested) without Snakemake.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .io import read_json, read_jsonl, write_json, write_jsonl

log = logging.getLogger("xdetox")


def prompts_step(source: str, lang: str, out: str, max_prompts: int | None, selection: str, seed: int) -> int:
    from .data.prompts import load_rtplx, select

    records = select(load_rtplx(source, lang), max_prompts, selection, seed)
    log.info("%s: %d prompts from %s", lang, len(records), source)
    return write_jsonl(out, records)


def pairs_step(source: str, train_out: str, val_out: str, pairs: dict) -> tuple[int, int]:
    from .data.pairs import filter_and_split, load_paradetox, load_toxicity_pairwise

    records = load_paradetox(source) if pairs["source"] == "paradetox" else load_toxicity_pairwise(source)
    train, val = filter_and_split(records, pairs["max_chars"], pairs["val_fraction"], pairs["seed"], pairs.get("max_pairs"))
    log.info("%d pairs read from %s: %d train, %d validation", len(records), source, len(train), len(val))
    return write_jsonl(train_out, train), write_jsonl(val_out, val)


def generate_step(model_dir: str, prompts_path: str, out: str, generation: dict, threads: int | None = None,
                  cache_dir: str | None = None, namespace: str = "", lang: str | None = None,
                  siblings: dict[str, str] | None = None) -> int:
    """One language's generation file. With `cache_dir`, copied from the content-addressed generation cache when
    the per-(model, stage) job already sampled it (no model load), else sampled here with the `siblings`
    (lang -> prompts file) missing from the cache, in one model load, and cached."""
    from .generation.runner import materialize_language

    if lang is None:
        prompts = read_jsonl(prompts_path, ("id", "lang", "text"))
        lang = prompts[0]["lang"] if prompts else Path(prompts_path).stem
    n = materialize_language(model_dir, prompts_path, lang, out, generation, cache_dir, namespace, threads,
                             siblings=siblings)
    log.info("%s: %d generations written to %s", lang, n, out)
    return n


def generate_stage_step(model_dir: str, prompt_files: dict[str, str], manifest: str, generation: dict,
                        cache_dir: str, namespace: str = "", threads: int | None = None) -> dict:
    """Every language of one (model, stage) into the generation cache with one model load (only missing ones)."""
    from .generation.runner import ensure_languages

    result = ensure_languages(model_dir, prompt_files, generation, cache_dir, namespace, threads)
    write_json(manifest, result)
    return result


def langid_table_step(generation_files: dict[tuple[str, str], str], csv_out: str, md_out: str, png_out: str,
                      model: str, label: str) -> list[dict]:
    """Per (stage, language): share of continuations in the prompt's language and in English (CSV, MD, PNG)."""
    from .io import atomic_path, write_text
    from .langid import langid_figure, langid_rows, rows_to_csv, rows_to_markdown

    rows = langid_rows(model, {k: read_jsonl(p, ("lang", "text")) for k, p in generation_files.items()})
    write_text(csv_out, rows_to_csv(rows))
    write_text(md_out, rows_to_markdown(rows, label))
    with atomic_path(png_out) as tmp:
        langid_figure(rows, label, tmp)
    return rows


def metrics_step(scores_path: str, out: str, threshold: float, model: str, stage: str, lang: str, scorer: str,
                 bootstrap: dict | None = None) -> dict:
    """`bootstrap`: evaluation.bootstrap ({n, ci, seed}); None keeps toxicity_metrics' defaults (1000, 95%, seed 0)."""
    from .metrics.toxicity import toxicity_metrics

    boot = {"n_boot": bootstrap["n"], "ci": bootstrap["ci"], "seed": bootstrap["seed"]} if bootstrap else {}
    result = toxicity_metrics(read_jsonl(scores_path, ("prompt_id", "toxicity")), threshold=threshold, **boot)
    result.update({"model": model, "stage": stage, "lang": lang, "scorer": scorer})
    write_json(out, result)
    return result


def load_metrics(paths: list[str]) -> list[dict]:
    return [read_json(p) for p in paths]


def agreement_step(paths_a: list[str], paths_b: list[str], langs: list[str], csv_out: str, md_out: str, png_out: str,
                   scorer_a: str, scorer_b: str, threshold: float) -> list:
    from .scoring.agreement import agreement_by_language, write_agreement

    records = {lang: (read_jsonl(a), read_jsonl(b)) for lang, a, b in zip(langs, paths_a, paths_b)}
    rows = agreement_by_language(records, threshold=threshold)
    write_agreement(rows, csv_out, md_out, png_out, scorer_a, scorer_b)
    return rows
