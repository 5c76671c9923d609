"""Steps of workflow/rules/score.smk: toxicity of every continuation per scorer, and the agreement of two scorers.

A module serves several rules, and every job imports it: libraries a light rule does not need (torch,
transformers, matplotlib: 5-15 s per job) are imported inside the steps that use them.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

from .. import XdetoxError
from ..io import read_jsonl, write_jsonl, write_text
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


def score_stage(generation_paths: Sequence[str], manifest_out: str, scorer: str, settings: Mapping[str, Any],
                cache_path: str) -> dict:
    """Fill the score cache for every language of one (model, stage) with ONE scorer load (an encoder or classifier
    load costs 10-20 s on a CPU; the per-language `score` jobs then read the cache), and write a manifest of counts."""
    from ..io import write_json

    cached = open_cached_scorer(scorer, settings, cache_path)
    counts = {}
    try:
        for path in generation_paths:
            generations = read_jsonl(path, required=GENERATION_FIELDS)
            score_records(generations, cached)
            counts[path] = len(generations)
    finally:
        stats = dict(getattr(cached, "stats", {}) or {})
        log.info("%s: %s", scorer, ", ".join(f"{k}={v}" for k, v in stats.items()))
        cached.close()
    write_json(manifest_out, {"scorer": scorer, "texts": counts, "stats": stats})
    return stats


def agreement(paths_a: Sequence[str], paths_b: Sequence[str], langs: Sequence[str], csv_out: str, md_out: str,
              png_out: str, scorer_a: str, scorer_b: str, threshold: float) -> list[Agreement]:
    """Per language and pooled: Pearson, Spearman and ROC-AUC of scorer B against scorer A's labels."""
    from ..report.agreement import agreement_tables

    records = {lang: (read_jsonl(a), read_jsonl(b)) for lang, a, b in zip(langs, paths_a, paths_b)}
    rows = agreement_by_language(records, threshold)
    agreement_tables(rows, csv_out, md_out, png_out, scorer_a, scorer_b)
    return rows


def train_scorer(encoder: str, rtplx_files: Mapping[str, str], out_dir: str, settings: Mapping[str, Any],
                 jigsaw: str | None = None, batch_tokens: int = 4096, threads: int | None = None) -> dict:
    """Train the learned scorer's cross-fitted heads (xdetox.scoring.learned) and write its artifact to `out_dir`.

    `settings`: the `scoring.learned` section; `rtplx_files`: lang -> RTP-LX v0.2 raw file (the human ratings);
    `jigsaw`: the English Jigsaw subset, used when `training.jigsaw.max_examples` is not 0; `batch_tokens`, `threads`:
    how it runs, not what it computes. Returns the artifact's training summary.
    """
    from ..scoring.learned.encoder import FeatureSpec
    from ..scoring.learned.heads import HeadSpec
    from ..scoring.learned.training import jigsaw_examples, rtplx_examples, train

    training = settings["training"]
    rtplx, jig = training["rtplx"], training["jigsaw"]
    examples = []
    if rtplx["enabled"]:
        examples += rtplx_examples(rtplx_files, rtplx["max_per_lang"], rtplx["selection"], rtplx["seed"],
                                   rtplx["target"])
    if jig["max_examples"] != 0:
        if not jigsaw:
            raise XdetoxError("config key scoring.learned.training.jigsaw.max_examples: Jigsaw examples asked for "
                              "but no Jigsaw file was given")
        examples += jigsaw_examples(jigsaw, jig["max_examples"], settings["seed"])
    features = FeatureSpec(layers=tuple(settings["layers"]), pooling=settings["pooling"],
                           max_length=settings["max_length"], precision=settings["precision"])
    head = HeadSpec(settings["head"], l2=settings["l2"])
    weights = {"jigsaw": jig["weight"]} if jig["max_examples"] != 0 else None
    model = train(encoder, examples, features, head, settings["folds"], out_dir, seed=settings["seed"],
                  source_weights=weights, batch_tokens=batch_tokens, threads=threads)
    return model.training


def _validation_sample(annotation_files: Mapping[str, str], validation: Mapping[str, Any]) -> dict[str, list[dict]]:
    """The rated RTP-LX prompts each language is validated on: all, or a seeded subset (never the first n: the files
    are ordered toxic first)."""
    from ..data.prompts import load_rtplx_annotations, select

    return {lang: select(load_rtplx_annotations(path, lang), validation["max_per_lang"], validation["selection"],
                         validation["seed"])
            for lang, path in annotation_files.items()}


def _score_by_prompt(scorer, texts: Sequence[str], lang: str, prompt_ids: Sequence[str]) -> list[float]:
    return [s.toxicity for s in scorer.score_prompts(list(texts), lang, list(prompt_ids))]


def scorer_validation(annotation_files: Mapping[str, str], csv_out: str, md_out: str, png_out: str, scorer: str,
                      settings: Mapping[str, Any], cache_path: str, validation: Mapping[str, Any],
                      threshold: float) -> list:
    """Score rated RTP-LX prompts of every language through `scorer` and its cache; per-language ROC-AUC, Spearman,
    weighted κ and flagged share against the human ratings (xdetox.metrics.validation), as CSV, Markdown and a figure.

    The learned scorer first stores its out-of-fold training scores in the cache, so the prompts it trained on cost
    nothing and each is scored by a head that never saw its Index.
    """
    from ..metrics.validation import validate
    from ..report.validation import plot_validation, validation_markdown, write_rows_csv

    sample = _validation_sample(annotation_files, validation)
    cached = open_cached_scorer(scorer, settings, cache_path)
    rows = []
    try:
        if hasattr(cached, "seed_cache"):
            log.info("%s: %d out-of-fold training scores put in the cache", scorer, cached.seed_cache())
        for lang, records in sample.items():
            scores = _score_by_prompt(cached, [r["text"] for r in records], lang, [r["id"] for r in records])
            rows += [{"lang": lang, "prompt_id": r["id"], "human": r["toxicity_mean"], "score": s}
                     for r, s in zip(records, scores)]
    finally:
        stats = dict(getattr(cached, "stats", {}) or {})
        if stats:
            log.info("%s: %s", scorer, ", ".join(f"{k}={v}" for k, v in stats.items()))
        cached.close()
    table = validate(rows, langs=list(sample), threshold=threshold, n_boot=validation["n_boot"],
                     seed=validation["seed"])
    write_rows_csv(table, csv_out, scorer=scorer)
    write_text(md_out, validation_markdown(table, scorer, threshold))
    plot_validation({scorer: table}, png_out)
    return table


def scorer_consistency(parallel_files: Mapping[str, str], csv_out: str, md_out: str, png_out: str, scorer: str,
                       settings: Mapping[str, Any], cache_path: str, n_boot: int, seed: int = 0,
                       max_prompts: int | None = None) -> list:
    """Score the line-aligned parallel prompts (the paper's 200; the first `max_prompts` of them) in every language;
    each language's mean offset from English and rank correlation with English
    (xdetox.metrics.validation.consistency)."""
    from ..data.parallel import load_files
    from ..metrics.validation import consistency
    from ..report.validation import consistency_markdown, plot_consistency, write_rows_csv

    sentences = load_files("parallel200", dict(parallel_files), max_prompts)
    cached = open_cached_scorer(scorer, settings, cache_path)
    try:
        # line i of every language is RTP-LX EN's prompt Index i (the paper took the first 200): the learned scorer
        # routes each to a head that never saw that Index
        scores = {lang: _score_by_prompt(cached, texts, lang, [str(i) for i in range(len(texts))])
                  for lang, texts in sentences.items()}
    finally:
        cached.close()
    rows = consistency(scores, n_boot=n_boot, seed=seed)
    write_rows_csv(rows, csv_out, scorer=scorer)
    write_text(md_out, consistency_markdown(rows, scorer))
    plot_consistency({scorer: rows}, png_out)
    return rows
