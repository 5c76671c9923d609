"""Steps of workflow/rules/data.smk: inputs of the study (downloads, RTP-LX prompts, preference pairs, checkpoints)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..data.checkpoints import prepare_base_model, prepare_published_dpo
from ..data.fetch import download
from ..data.pairs import filter_and_split, load_paradetox, load_toxicity_pairwise
from ..data.prompts import load_rtplx, select
from ..data.staging import source_of, stage
from ..io import write_jsonl

log = logging.getLogger("xdetox")


def fetch(relpath: str, out: str) -> Path:
    """One input file from its pinned URL, SHA-256 checked (src/xdetox/data/sources.json)."""
    return download(relpath, out)


def prompts(source: str, lang: str, out: str, max_prompts: int | None, selection: str, seed: int) -> int:
    """One language's RTP-LX prompts as {id, lang, text}, a deterministic subset if configured."""
    records = select(load_rtplx(source, lang), max_prompts, selection, seed)
    log.info("%s: %d prompts from %s", lang, len(records), source)
    return write_jsonl(out, records)


def pairs(source: str, train_out: str, val_out: str, settings: dict) -> tuple[int, int]:
    """English preference pairs {id, prompt, chosen, rejected}, filtered and split (config data.pairs)."""
    if settings["source"] == "paradetox":
        records = load_paradetox(source)
    else:
        records = load_toxicity_pairwise(source)
    train, val = filter_and_split(records, settings["max_chars"], settings["val_fraction"], settings["seed"],
                                  settings["max_pairs"], settings["max_dropped_fraction"])
    log.info("%d pairs read from %s: %d train, %d validation", len(records), source, len(train), len(val))
    return write_jsonl(train_out, train), write_jsonl(val_out, val)


def stage_input(config: dict, name: str, out: str, sha256: str) -> str:
    """Copy the external file a staged name stands for to `out`, checking it still has the planned SHA-256
    (xdetox.data.staging)."""
    source = source_of(config, name)
    stage(source, out, sha256)
    log.info("staged %s as %s (sha256 %s)", source, out, sha256)
    return sha256


def stage_input_folder(config: dict, name: str, out: str, sha256: str) -> str:
    """Copy the external folder a staged name stands for to `out` (data.pairs.path as a folder of *.jsonl)."""
    return stage_input(config, name, out, sha256)


def base_model(model: dict, out: str) -> Path:
    """A plain transformers checkpoint of a hub or GGUF-package model (config models.<name>)."""
    return prepare_base_model(model, out)


def published_model(source: dict, base_dir: str, out: str) -> Path:
    """A published DPO checkpoint (config models.<name>.dpo_source) as the model's `dpo` stage: dense, or merged."""
    return prepare_published_dpo(source, base_dir, out)
