"""The content cache: how one job per (model, stage) loads a model once and the per-language jobs reuse its work.

An entry is a finished per-language JSON Lines file, stored under `{root}/{namespace}/{name}/{key}.jsonl` with
`{key}.json` beside it (the ingredients of the key, the record count and the byte size). `key` is a SHA-256 of the
ingredients, which each user of the cache chooses so that a hit is exactly what a fresh computation would write:

- generation (`xdetox.steps.generate`): model checkpoint, prompts file, language, generation settings, generation code;
- quality (`xdetox.steps.evaluate`): generations file, evaluator checkpoint, value-changing settings, metric code.

The API follows HELM's `Cache.get(request, compute)`: a caller gives the items, a `key_fn` and a `compute_fn`, and gets
entries back; `ensure` computes every missing item with ONE `compute_fn` call (one model load) under the namespace's
lock, so concurrent jobs of the same (model, stage) wait for each other instead of loading the model twice.
Deleting the cache is always safe. Every cache of the workflow lives under `{resources_dir}/cache/`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, TypeVar

from .io import atomic_path, write_json, write_jsonl

log = logging.getLogger("xdetox.cache")

T = TypeVar("T")


# ------------------------------------------------------------------------------------------------------ fingerprints

def _update(digest, path: str | os.PathLike) -> None:
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    _update(digest, path)
    return digest.hexdigest()


def files_digest(paths: Iterable[str | os.PathLike]) -> str:
    """SHA-256 over each file's name then its bytes, in the given order (a word list, a folder of weights)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        _update(digest, path)
    return digest.hexdigest()


def model_fingerprint(model_dir: str | os.PathLike) -> str:
    """Every file of a checkpoint folder by relative path, size and modification time.

    A retrained or re-converted checkpoint gets a new fingerprint; hashing gigabytes of weights per job would cost
    more than it saves. A path that is not a folder (a hub id: pin its revision) is fingerprinted by its name.
    """
    root = Path(model_dir)
    if not root.is_dir():
        return hashlib.sha256(str(model_dir).encode()).hexdigest()
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(root).as_posix()}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def package_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def code_fingerprint(sources: Iterable[str | os.PathLike], packages: Iterable[str]) -> str:
    """The source files that compute an entry (name and bytes) and the versions of the packages they rely on."""
    digest = hashlib.sha256()
    for path in sources:
        path = Path(path)
        digest.update(path.name.encode() + b"\x1f" + path.read_bytes())
    digest.update(json.dumps({p: package_version(p) for p in packages}, sort_keys=True).encode())
    return digest.hexdigest()


def content_key(ingredients: dict) -> str:
    blob = json.dumps(ingredients, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:40]


# ------------------------------------------------------------------------------------------------------------- store

@dataclass(frozen=True)
class Entry:
    key: str
    path: Path
    computed: bool  # computed by this call (False: it was already in the cache)


class ContentCache:
    """`{root}/{namespace}/{name}/{key}.jsonl` plus `{key}.json`; one lock per namespace."""

    def __init__(self, root: str | os.PathLike, namespace: str = ""):
        self.root = Path(root) / namespace if namespace else Path(root)

    def path(self, name: str, key: str) -> Path:
        return self.root / name / f"{key}.jsonl"

    def lookup(self, name: str, key: str) -> Path | None:
        """The entry's path if it is present and complete (its size matches the one recorded), else None."""
        path = self.path(name, key)
        meta_path = path.with_suffix(".json")
        if not (path.is_file() and meta_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        return path if meta.get("bytes") == path.stat().st_size else None

    def put(self, name: str, key: str, records: list[dict], ingredients: dict,
            computed_with: list[str] | None = None) -> Path:
        """Store an entry; `computed_with`: the names computed by the same compute call (one model load)."""
        path = self.path(name, key)
        write_jsonl(path, records)  # atomic
        write_json(path.with_suffix(".json"), {"key": key, "n_records": len(records), "bytes": path.stat().st_size,
                                               "ingredients": ingredients, "computed_with": computed_with or [name]})
        return path

    def meta(self, name: str, key: str) -> dict:
        """The metadata stored beside an entry (key, n_records, bytes, ingredients, computed_with)."""
        return json.loads(self.path(name, key).with_suffix(".json").read_text(encoding="utf-8"))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock of this namespace: one job computes into it at a time, the others wait."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("waiting for another job computing into %s", self.root)
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ensure(self, items: Mapping[str, T], key_fn: Callable[[str, T], tuple[str, dict]],
               compute_fn: Callable[[dict[str, T]], Mapping[str, list[dict]]]) -> dict[str, Entry]:
        """Every item's entry; the missing ones are computed by one `compute_fn({name: item})` call, under the lock.

        `key_fn(name, item)` -> (key, ingredients); `compute_fn` returns the records of every item it was given.
        """
        with self.lock():
            keys = {name: key_fn(name, item) for name, item in items.items()}
            missing = {name: item for name, item in items.items() if self.lookup(name, keys[name][0]) is None}
            log.info("cache %s: %d cached, %d to compute (%s)", self.root, len(items) - len(missing), len(missing),
                     ", ".join(missing) or "-")
            if missing:
                computed = compute_fn(missing)
                for name in missing:
                    self.put(name, keys[name][0], computed[name], keys[name][1], sorted(missing))
        return {name: Entry(keys[name][0], self.path(name, keys[name][0]), name in missing) for name in items}

    def get(self, name: str, item: T, key_fn: Callable[[str, T], tuple[str, dict]],
            compute_fn: Callable[[dict[str, T]], Mapping[str, list[dict]]],
            companions: Mapping[str, T] | None = None) -> Entry:
        """One item's entry: a hit costs nothing; a miss computes it together with every companion item missing
        from the cache (the other languages of the stage), with one `compute_fn` call."""
        key, _ = key_fn(name, item)
        path = self.lookup(name, key)
        if path is not None:
            return Entry(key, path, False)
        log.info("%s: not in the cache %s (%s); computing it with the missing companions", name, self.root, key)
        return self.ensure({name: item, **{n: i for n, i in (companions or {}).items() if n != name}},
                           key_fn, compute_fn)[name]


def materialize(entry: str | os.PathLike, out: str | os.PathLike) -> None:
    """Copy an entry to a workflow output atomically (a copy, not a link: outputs stay independent files)."""
    with atomic_path(out) as tmp:
        shutil.copyfile(entry, tmp)
