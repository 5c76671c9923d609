"""RTP-LX prompts, normalised to the prompts contract `{id, lang, text}` (paper §3.1.1)."""

from __future__ import annotations

import math
import random
from pathlib import Path

from .. import XdetoxError
from ..io import iter_jsonl, iter_jsonl_lines
from ..languages import RTPLX_LOCALE

RELEASE_DIRS = {"v0.2": ("rtp-lx/v0.2_raw", ".json"), "v1x": ("rtp-lx/v1x_prompts", ".jsonl")}


def rtplx_relpath(lang: str, release: str) -> str:
    """Path of a language's RTP-LX file in the data-folder layout (v1x has no Russian file: v0.2 stands in)."""
    folder, suffix = RELEASE_DIRS[release]
    if release == "v1x" and lang == "ru":
        folder, suffix = RELEASE_DIRS["v0.2"]
    return f"{folder}/RTP_LX_{RTPLX_LOCALE[lang]}{suffix}"


def find_in_folder(folder: str | Path, lang: str) -> Path:
    """The RTP_LX_{LOCALE}.json or .jsonl file of `lang` in a user-given folder."""
    folder = Path(folder)
    for suffix in (".json", ".jsonl"):
        path = folder / f"RTP_LX_{RTPLX_LOCALE[lang]}{suffix}"
        if path.exists():
            return path
    raise XdetoxError(f"{folder}: no RTP_LX_{RTPLX_LOCALE[lang]}.json(l) for language {lang!r}")


def load_rtplx(path: str | Path, lang: str) -> list[dict]:
    """Read an RTP-LX JSON-lines file into `{id, lang, text}` records, in file order."""
    records, seen = [], set()
    # ids without an Index count records (stable whatever the blank lines); errors name the file's line
    for n, (line, raw) in enumerate(iter_jsonl_lines(path, required=("Prompt",)), start=1):
        text = raw["Prompt"]
        if not isinstance(text, str) or not text.strip():
            raise XdetoxError(f"{path}:{line}: record {n}: empty or non-text 'Prompt'")
        pid = str(raw.get("Index", n - 1))
        if pid in seen:
            raise XdetoxError(f"{path}:{line}: record {n}: duplicate Index {pid!r}")
        seen.add(pid)
        records.append({"id": pid, "lang": lang, "text": text})
    if not records:
        raise XdetoxError(f"{path}: no prompts")
    return records


def load_rtplx_annotations(path: str | Path, lang: str, attribute: str = "Toxicity") -> list[dict]:
    """RTP-LX human ratings: `{id, lang, text, toxicity_mean, raters}` per prompt, in file order.

    `toxicity_mean` is the file's `Annotations[attribute]` (the mean of the raters on the 1–5 scale); `raters` the
    individual ratings from `AnnotationsRaw[attribute]` (an empty list where the file has none). Only the v0.2 raw
    release carries ratings (v1x keeps `PromptAnnotations` instead, read too). A missing or out-of-range rating is an
    error naming the file and line: a label silently dropped would bias the validation towards easy prompts.
    """
    records, seen = [], set()
    for lineno, raw in iter_jsonl_lines(path, required=("Prompt",)):
        where = f"{path}:{lineno}"
        text = raw["Prompt"]
        if not isinstance(text, str) or not text.strip():
            raise XdetoxError(f"{where}: empty or non-text 'Prompt'")
        annotations = raw.get("Annotations", raw.get("PromptAnnotations"))
        if not isinstance(annotations, dict) or attribute not in annotations:
            raise XdetoxError(f"{where}: no 'Annotations.{attribute}' (human rating); RTP-LX v0.2 raw carries them")
        mean = annotations[attribute]
        if isinstance(mean, bool) or not isinstance(mean, (int, float)) or not (1.0 <= mean <= 5.0):
            raise XdetoxError(f"{where}: 'Annotations.{attribute}' = {mean!r}, expected a number in [1, 5]")
        raters = (raw.get("AnnotationsRaw") or {}).get(attribute, [])
        if not isinstance(raters, list) or not all(isinstance(r, (int, float)) and 1 <= r <= 5 for r in raters):
            raise XdetoxError(f"{where}: 'AnnotationsRaw.{attribute}' = {raters!r}, expected ratings in [1, 5]")
        if raters and not math.isclose(sum(raters) / len(raters), mean, abs_tol=1e-6):
            raise XdetoxError(f"{where}: 'Annotations.{attribute}' = {mean} is not the mean of the raters {raters}")
        if "Index" not in raw:
            raise XdetoxError(f"{where}: no 'Index' (the prompt id shared by the translations of a prompt)")
        pid = str(raw["Index"])
        if pid in seen:
            raise XdetoxError(f"{where}: duplicate Index {pid!r}")
        seen.add(pid)
        records.append({"id": pid, "lang": lang, "text": text, "toxicity_mean": float(mean),
                        "raters": [float(r) for r in raters]})
    if not records:
        raise XdetoxError(f"{path}: no annotated prompts")
    return records


def select(records: list[dict], max_prompts: int | None, selection: str = "first", seed: int = 0) -> list[dict]:
    """Deterministic subset: the first n, or a seeded random n kept in file order."""
    if max_prompts is None or max_prompts >= len(records):
        return list(records)
    if selection == "first":
        return records[:max_prompts]
    keep = sorted(random.Random(seed).sample(range(len(records)), max_prompts))
    return [records[i] for i in keep]
