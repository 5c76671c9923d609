"""Reading and writing the workflow's files: JSON Lines with file:line errors, JSON, CSV; every write atomic."""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import os
import re
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


_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
              (codecs.BOM_UTF16_BE, "UTF-16"))
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_wide_encoding(path: Path, head: bytes) -> None:
    """UTF-16/32 files: say so (a byte-order mark, or NUL bytes in what should be text), not 'invalid byte 0xff'."""
    for bom, name in _WIDE_BOMS:
        if head.startswith(bom):
            raise XdetoxError(f"{path}:1: the file is {name} (it starts with a {name} byte-order mark); it must be "
                              f"UTF-8: convert it, e.g. iconv -f {name} -t UTF-8 {path.name} > converted")
    if b"\x00" in head:
        raise XdetoxError(f"{path}:1: the file contains NUL bytes: it is probably UTF-16 or UTF-32 without a "
                          "byte-order mark; it must be UTF-8 (convert it, e.g. with iconv -f UTF-16 -t UTF-8)")


def _decode_line(path: Path, lineno: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        column = len(raw[: err.start].decode("utf-8", errors="replace")) + 1
        bad = raw[err.start : err.end]
        hint = ("it looks like Latin-1 / Windows-1252: convert it, e.g. iconv -f latin1 -t UTF-8"
                if all(0x80 <= b <= 0xFF for b in bad) else "save the file as UTF-8")
        raise XdetoxError(f"{path}:{lineno}: not valid UTF-8 (byte 0x{bad[0]:02x} at column {column}); "
                          f"{hint}") from None


def _printable(text: str) -> str:
    """`text` with lone surrogates spelled as escapes, so that an error message naming it can be printed."""
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _lone_surrogate(value: Any, where: str = "") -> str | None:
    """The field path (e.g. 'text' or 'meta.tags[2]') of the first string holding a lone surrogate, else None.

    JSON may spell one as an escape ("\\ud800"); Python accepts it, but the text is not Unicode and writing it as UTF-8
    fails later, far from this file.
    """
    if isinstance(value, str):
        return (where or "<the record>") if _LONE_SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{_printable(key)}".lstrip(".")
            found = _lone_surrogate(key, f"{name} (its name)") or _lone_surrogate(item, name)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _lone_surrogate(item, f"{where}[{i}]")
            if found:
                return found
    return None


def iter_jsonl_lines(path: str | os.PathLike, required: Iterable[str] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, record) for a JSON Lines file; any bad line — not UTF-8 (Latin-1, UTF-16), invalid JSON,
    not an object, a missing field, a lone surrogate — raises an XdetoxError naming file and line."""
    required = tuple(required)
    path = Path(path)
    if not path.exists():
        raise XdetoxError(f"{path}: file not found")
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if lineno == 1:
                _check_wide_encoding(path, raw[:4096])
                raw = raw.removeprefix(codecs.BOM_UTF8)
            line = _decode_line(path, lineno, raw)
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
            field = _lone_surrogate(record)
            if field:
                raise XdetoxError(f"{path}:{lineno}: field {field} holds a lone surrogate (a \\ud800-\\udfff escape "
                                  "without its pair): the text is not valid Unicode; fix or drop the record")
            yield lineno, record


def iter_jsonl(path: str | os.PathLike, required: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSON Lines file; a bad line raises an error naming file and line."""
    for _, record in iter_jsonl_lines(path, required):
        yield record


def read_text(path: str | os.PathLike) -> str:
    """A whole UTF-8 text file (a BOM is dropped); another encoding raises an XdetoxError naming file and line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise XdetoxError(f"{path}: file not found") from None
    _check_wide_encoding(path, data[:4096])
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        start = data.rfind(b"\n", 0, err.start) + 1
        end = data.find(b"\n", err.start)
        _decode_line(path, data.count(b"\n", 0, err.start) + 1, data[start : end if end >= 0 else len(data)])
        raise  # unreachable: _decode_line raised for this line


def read_jsonl(path: str | os.PathLike, required: Iterable[str] = ()) -> list[dict[str, Any]]:
    return list(iter_jsonl(path, required))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_open(path) as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=2, sort_keys=True)
        handle.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(read_text(path))
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
