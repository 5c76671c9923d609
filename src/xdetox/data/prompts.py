"""RTP-LX prompts, normalised to the prompts contract `{id, lang, text}` (paper §3.1.1)."""

from __future__ import annotations

import random
from pathlib import Path

from .. import XdetoxError
from ..io import iter_jsonl_lines
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


def select(records: list[dict], max_prompts: int | None, selection: str = "first", seed: int = 0) -> list[dict]:
    """Deterministic subset: the first n, or a seeded random n kept in file order."""
    if max_prompts is None or max_prompts >= len(records):
        return list(records)
    if selection == "first":
        return records[:max_prompts]
    keep = sorted(random.Random(seed).sample(range(len(records)), max_prompts))
    return [records[i] for i in keep]
