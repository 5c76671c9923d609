"""One function per workflow step: read input files, call the library, write output files atomically.

The Snakemake scripts are thin adapters around these; each is callable (and tested) without Snakemake.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .io import read_json, read_jsonl, write_json, write_jsonl

log = logging.getLogger("xdetox")


def prompts_step(lang: str, out: str, prompts: dict, local_dir: str | None, download_dir: str) -> int:
    from .data.fetch import resolve
    from .data.prompts import find_in_folder, load_rtplx, rtplx_relpath, select

    if prompts.get("path"):
        source = find_in_folder(prompts["path"], lang)
    else:
        source = resolve(rtplx_relpath(lang, prompts["release"]), local_dir, download_dir)
    records = select(load_rtplx(source, lang), prompts.get("max_prompts_per_lang"), prompts["selection"], prompts["seed"])
    log.info("%s: %d prompts from %s", lang, len(records), source)
    return write_jsonl(out, records)


def pairs_step(train_out: str, val_out: str, pairs: dict, local_dir: str | None, download_dir: str) -> tuple[int, int]:
    from .data.fetch import resolve
    from .data.pairs import filter_and_split, load_paradetox, load_toxicity_pairwise

    source = pairs["source"]
    if source == "paradetox":
        path = pairs.get("path") or resolve("paradetox/paradetox.tsv", local_dir, download_dir)
        records = load_paradetox(path)
    else:
        if not pairs.get("path"):
            from . import XdetoxError

            raise XdetoxError(
                "config key data.pairs.path: Lee et al.'s toxicity_pairwise data has no public pinned URL (it is a "
                "Google Drive zip); download and unzip it, then set data.pairs.path to its folder of *.jsonl files"
            )
        records = load_toxicity_pairwise(pairs["path"])
    train, val = filter_and_split(records, pairs["max_chars"], pairs["val_fraction"], pairs["seed"], pairs.get("max_pairs"))
    log.info("%d pairs read, %d train, %d validation", len(records), len(train), len(val))
    return write_jsonl(train_out, train), write_jsonl(val_out, val)


def generate_step(model_dir: str, prompts_path: str, out: str, generation: dict, threads: int | None = None) -> int:
    from .generation.base import Sampling
    from .generation.registry import make_backend

    prompts = read_jsonl(prompts_path, ("id", "lang", "text"))
    sampling = Sampling.from_config(generation)
    backend = make_backend(generation, threads=threads)
    records = backend.generate(model_dir, prompts, sampling)
    expected = len(prompts) * sampling.n_samples
    if len(records) != expected:
        from . import XdetoxError

        raise XdetoxError(f"{out}: backend returned {len(records)} generations, expected {expected}")
    return write_jsonl(out, records)


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
