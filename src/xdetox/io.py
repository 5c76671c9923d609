"""Reading and writing the workflow's files: JSON Lines with file:line errors, JSON, CSV; every write atomic."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from . import XdetoxError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` only if the block succeeds.

    A crash or an exception leaves any previous file untouched and no partial file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path` that replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temporary file for writing that replaces `path` only when the block completes."""
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": "\n"}
        with open(tmp, mode, **kwargs) as handle:
            yield handle


def write_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> int:
    """Write records as JSON Lines atomically; returns the number written."""
    n = 0
    with atomic_open(path) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def iter_jsonl(path: str | os.PathLike, required: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSON Lines file; a bad line raises an error naming file and line."""
    for _, record in iter_jsonl_numbered(path, required):
        yield record


def iter_jsonl_numbered(path: str | os.PathLike, required: Iterable[str] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """iter_jsonl, with each record's line number (so callers can name the line of a bad value)."""
    required = tuple(required)
    path = Path(path)
    if not path.exists():
        raise XdetoxError(f"{path}: file not found")
    with open(path, encoding="utf-8-sig") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise XdetoxError(f"{path}:{lineno}: invalid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(record, dict):
                raise XdetoxError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
            missing = [key for key in required if key not in record]
            if missing:
                raise XdetoxError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
            yield lineno, record


def read_jsonl(path: str | os.PathLike, required: Iterable[str] = ()) -> list[dict[str, Any]]:
    return list(iter_jsonl(path, required))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_open(path) as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=2, sort_keys=True)
        handle.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise XdetoxError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise XdetoxError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text)


def write_csv(path: str | os.PathLike, rows: Iterable[dict[str, Any]], fieldnames: Sequence[str],
              lineterminator: str = "\r\n") -> None:
    """Write dict rows as CSV atomically (the csv module's default "\r\n" line ends unless told otherwise)."""
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fieldnames), lineterminator=lineterminator)
        writer.writeheader()
        writer.writerows(rows)


def read_json_each(paths: Iterable[str | os.PathLike]) -> list[Any]:
    """read_json of every path, in order (e.g. one metrics file per language)."""
    return [read_json(p) for p in paths]
