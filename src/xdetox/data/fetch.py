"""Obtain an input file: from a local data folder, or from its pinned upstream URL with a SHA-256 check.

The manifest `sources.json` maps each file's path in the data-folder layout (the layout of shared/data) to its pinned
URL (a commit-addressed raw URL) and checksum. A user replaces the download with a local copy by pointing
`data.local_dir` (or XDETOX_DATA_DIR) at a folder with the same layout.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from functools import lru_cache
from pathlib import Path

from .. import XdetoxError
from ..cache import file_sha256
from ..io import atomic_path

MANIFEST = Path(__file__).with_name("sources.json")


@lru_cache(maxsize=1)
def manifest() -> dict[str, dict]:
    with open(MANIFEST, encoding="utf-8") as handle:
        return json.load(handle)


def entry(relpath: str) -> dict:
    try:
        return manifest()[relpath]
    except KeyError:
        raise XdetoxError(f"no pinned source for {relpath!r} (see {MANIFEST})") from None


def resolve(relpath: str, local_dir: str | None, download_dir: str | Path, verify_local: bool = False) -> Path:
    """Path of the input `relpath`: in `local_dir` if given, else downloaded once into `download_dir`."""
    if local_dir:
        path = Path(local_dir) / relpath
        if not path.exists():
            raise XdetoxError(f"{path}: not found in the local data folder {local_dir!r} (expected layout: {relpath})")
        if verify_local and relpath in manifest() and file_sha256(path) != manifest()[relpath]["sha256"]:
            raise XdetoxError(f"{path}: checksum differs from the pinned upstream file")
        return path
    target = Path(download_dir) / relpath
    if target.exists() and file_sha256(target) == entry(relpath)["sha256"]:
        return target
    download(relpath, target)
    return target


def download(relpath: str, target: str | Path, timeout: float = 60.0) -> Path:
    """Download a manifest entry to `target`, verifying its SHA-256; the file appears only when verified."""
    spec = entry(relpath)
    if not spec.get("url"):
        raise XdetoxError(
            f"{relpath}: has no pinned public URL; set data.local_dir (or XDETOX_DATA_DIR) to a folder that holds it"
        )
    target = Path(target)
    try:
        with atomic_path(target) as tmp:
            with urllib.request.urlopen(spec["url"], timeout=timeout) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
            got = file_sha256(tmp)
            if got != spec["sha256"]:
                raise XdetoxError(f"{spec['url']}: SHA-256 {got} differs from the pinned {spec['sha256']}")
    except OSError as err:
        raise XdetoxError(
            f"could not download {spec['url']} ({err}); offline? set data.local_dir or XDETOX_DATA_DIR to a local copy"
        ) from None
    return target
