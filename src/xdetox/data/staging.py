"""Inputs from outside the workflow, identified by their bytes, not by where they lie.

Snakemake reruns a job when the set of its input paths changes or an input is newer than its outputs. An input read
straight from a data folder (data.local_dir / XDETOX_DATA_DIR, data.prompts.path, data.pairs.path,
interpret.probe.path) therefore makes every job downstream of it rerun when that folder is moved or copied — same
bytes, new path or new mtimes — DPO included. So each such input is *staged*: the stage_input rule copies it to
`{resources_dir}/inputs/<name>`, with the source's SHA-256 as its only parameter and no input on the external path.
Downstream rules read the staged copy, whose path never changes and which is rewritten only when the digest changes.

A staged name says where its source comes from, so the job (and a cluster job on another node) finds the source from
the config alone:
  data/<relpath>        <data folder>/<relpath>      (a file of the data-folder layout, src/xdetox/data/sources.json)
  prompts/<file name>   data.prompts.path/<file name>
  pairs/<name>          data.pairs.path (a file or a folder of *.jsonl)
  probe/<name>          interpret.probe.path
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from .. import XdetoxError
from ..config import DATA_DIR_ENV
from ..io import atomic_dir, atomic_path

#: where staged copies live, under resources_dir
STAGE_DIR = "inputs"
KINDS = ("data", "prompts", "pairs", "probe")
_CHUNK = 1 << 20
_memo: dict[tuple, str] = {}


def digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file, or of a folder (every file's relative path and digest, in sorted order).

    Memoised on (path, size, mtime) within a process: the workflow asks for each input's digest while planning.
    """
    path = Path(path)
    try:
        if path.is_dir():
            outer = hashlib.sha256()
            files = sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                outer.update(file.relative_to(path).as_posix().encode() + b"\0" + digest(file).encode() + b"\n")
            return outer.hexdigest()
        stat = path.stat()
    except OSError as err:
        raise XdetoxError(f"input {path}: cannot read it ({err.strerror or err})") from None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _memo:
        sha = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                sha.update(chunk)
        _memo[key] = sha.hexdigest()
    return _memo[key]


def staged_name(kind: str, source: str | os.PathLike, relpath: str | None = None) -> str:
    """The staged name of `source` (see the module docstring); `relpath` for kind data."""
    if kind not in KINDS:
        raise XdetoxError(f"unknown staged input kind {kind!r}; choose from {', '.join(KINDS)}")
    return f"data/{relpath}" if kind == "data" else f"{kind}/{Path(source).name}"


def _get(config: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        config = (config or {}).get(key)
    return config


def source_of(config: dict[str, Any], name: str) -> Path:
    """The external file or folder a staged name stands for, under the current config and environment.

    `config` may be the raw one a job receives (defaults not filled in): only the four path keys are read."""
    kind, _, rest = name.partition("/")
    if not rest:
        raise XdetoxError(f"staged input {name!r}: expected <kind>/<name> with kind one of {', '.join(KINDS)}")
    if kind == "data":
        folder = os.environ.get(DATA_DIR_ENV) or _get(config, "data", "local_dir")
        if not folder:
            raise XdetoxError(f"staged input {name!r}: no data folder (config key data.local_dir or environment "
                              f"variable {DATA_DIR_ENV})")
        return Path(folder) / rest
    settings = {"prompts": ("data.prompts.path", _get(config, "data", "prompts", "path")),
                "pairs": ("data.pairs.path", _get(config, "data", "pairs", "path")),
                "probe": ("interpret.probe.path", _get(config, "interpret", "probe", "path"))}
    if kind not in settings:
        raise XdetoxError(f"staged input {name!r}: unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    key, value = settings[kind]
    if not value:
        raise XdetoxError(f"staged input {name!r}: config key {key} is not set")
    if kind == "prompts":
        return Path(value) / rest
    if Path(value).name != rest:
        raise XdetoxError(f"staged input {name!r}: config key {key} is {value}, not a file or folder named {rest!r}")
    return Path(value)


def stage(source: str | os.PathLike, out: str | os.PathLike, expected: str) -> str:
    """Copy `source` (a file or folder) to `out` atomically, after checking it still has the digest the run was
    planned with (a file edited in between would otherwise be recorded under the old digest). Returns the digest."""
    source = Path(source)
    found = digest(source)
    if found != expected:
        raise XdetoxError(f"input {source}: its SHA-256 is {found}, not {expected} as when the run was planned; it "
                          "changed while the workflow ran: run the same command again")
    if source.is_dir():
        with atomic_dir(out) as tmp:
            # copyfile, not copy2: the copy gets a fresh mtime, so downstream jobs see an input newer than their outputs
            shutil.copytree(source, tmp, dirs_exist_ok=True, copy_function=shutil.copyfile)
    else:
        with atomic_path(out) as tmp:
            shutil.copyfile(source, tmp)
    return found
