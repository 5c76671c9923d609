"""Content-addressed cache of per-language generation files (how the workflow loads each model once per stage).

An entry is the finished `{lang}.jsonl` of one (model checkpoint, prompts file, language, generation settings, code),
stored under `{root}/{namespace}/{lang}/{key}.jsonl`; `key` is a SHA-256 of those ingredients:

- model: every file of the checkpoint folder by relative path, size and modification time (a retrained or
  re-converted checkpoint gets a new key; hashing gigabytes of weights per job would cost more than it saves);
- prompts: the SHA-256 of the prompts file's bytes, and the language;
- generation settings: the config's `generation` section less `cache_dir` (and the vllm section for the hf
  backend); batch_size stays in: in bf16 a sequence's logits depend slightly on its batch, so do the samples;
- code: the source of xdetox.generation and xdetox.langid, and the versions of torch / transformers / vllm /
  py3langid.

The HF backend's output is a function of these (same config, same bytes: tested; the thread count does not change
it), so a hit is the bytes a fresh run would write. Deleting the cache is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from ..io import write_json, write_jsonl

CACHE_VERSION = 1
#: settings that cannot change a generation file's bytes
NOT_IN_KEY = ("cache_dir",)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_fingerprint(model_dir: str | os.PathLike) -> str:
    root = Path(model_dir)
    if not root.is_dir():
        return hashlib.sha256(str(model_dir).encode()).hexdigest()  # a hub id (pin its revision) or a missing path
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(root).as_posix()}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=4)
def code_fingerprint(backend: str) -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(here.glob("*.py")) + [here.parent / "langid.py"]:
        digest.update(path.name.encode() + b"\x1f" + path.read_bytes())
    packages = ["py3langid"] + (["vllm", "torch"] if backend == "vllm" else ["torch", "transformers"])
    digest.update(json.dumps({p: _version(p) for p in packages}, sort_keys=True).encode())
    return digest.hexdigest()


def key_settings(generation: dict) -> dict:
    settings = {k: v for k, v in generation.items() if k not in NOT_IN_KEY}
    if settings.get("backend", "hf") != "vllm":
        settings.pop("vllm", None)
    return settings


def generation_key(model_dir: str, prompts_path: str, lang: str, generation: dict,
                   model_fp: str | None = None) -> tuple[str, dict]:
    """(key, ingredients) of one language's generation file."""
    settings = key_settings(generation)
    ingredients = {
        "cache_version": CACHE_VERSION,
        "model": model_fp or model_fingerprint(model_dir),
        "prompts": file_sha256(prompts_path),
        "lang": lang,
        "generation": settings,
        "code": code_fingerprint(settings.get("backend", "hf")),
    }
    blob = json.dumps(ingredients, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:40], ingredients


class GenerationCache:
    """`{root}/{namespace}/{lang}/{key}.jsonl` plus `{key}.json` (ingredients, record count, size)."""

    def __init__(self, root: str | os.PathLike, namespace: str = ""):
        self.root = Path(root) / namespace if namespace else Path(root)

    def entry(self, lang: str, key: str) -> Path:
        return self.root / lang / f"{key}.jsonl"

    def get(self, lang: str, key: str) -> Path | None:
        """The entry's path if it is present and complete (its size matches the one recorded), else None."""
        path = self.entry(lang, key)
        meta_path = path.with_suffix(".json")
        if not (path.is_file() and meta_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        return path if meta.get("bytes") == path.stat().st_size else None

    def put(self, lang: str, key: str, records: list[dict], ingredients: dict) -> Path:
        path = self.entry(lang, key)
        write_jsonl(path, records)  # atomic
        write_json(path.with_suffix(".json"), {"key": key, "n_records": len(records),
                                               "bytes": path.stat().st_size, "ingredients": ingredients})
        return path

    @staticmethod
    def materialize(entry: Path, out: str | os.PathLike) -> None:
        """Copy an entry to a workflow output atomically (a copy, not a link: outputs stay independent files)."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        try:
            shutil.copyfile(entry, tmp)
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
