"""Labelled toxic / non-toxic texts for the toxicity probe (paper §4.2, App. A.2): a CSV of text and a 0/1 label.

The paper trains on Jigsaw's train split (159,571 comments); offline the default is RobTest's balanced 12,180-row
Jigsaw subset (`jigsaw-subsets/robtest_jigsaw_balanced_12180.csv`, no header; sources.json pins its URL).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from .. import XdetoxError

#: `interpret.probe.source` → the file in the data-folder layout
PROBE_SOURCES = {"jigsaw": "jigsaw-subsets/robtest_jigsaw_balanced_12180.csv"}


def load_labelled_csv(path: str | Path, max_rows: int | None = None, seed: int = 0) -> list[tuple[str, int]]:
    """(text, label) rows of a 2-column CSV (text, 0/1 label; a header row is skipped); `max_rows` drawn at random."""
    path = Path(path)
    if not path.exists():
        raise XdetoxError(f"{path}: probe data not found")
    rows: list[tuple[str, int]] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for lineno, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if len(row) < 2:
                raise XdetoxError(f"{path}:{lineno}: expected 2 columns (text, label), got {len(row)}")
            text, label = row[0], row[-1].strip()
            if label not in ("0", "1"):
                if lineno == 1:  # a header
                    continue
                raise XdetoxError(f"{path}:{lineno}: label {label!r} is not 0 or 1")
            rows.append((text, int(label)))
    if len({label for _, label in rows}) < 2:
        raise XdetoxError(f"{path}: the probe needs both labels, found only {sorted({l for _, l in rows})}")
    if max_rows is not None and max_rows < len(rows):
        rows = random.Random(seed).sample(rows, max_rows)
    return rows
