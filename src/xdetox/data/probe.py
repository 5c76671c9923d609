"""Labelled toxic / non-toxic texts for the toxicity probe (paper §4.2, App. A.2): a CSV of text and a 0/1 label.

The paper trains on Jigsaw's train split (159,571 comments, ~10% toxic: `source: jigsaw-train`, Kaggle's train.csv,
which the user supplies); offline the default is RobTest's balanced 12,180-row Jigsaw subset (`jigsaw-balanced`,
`jigsaw-subsets/robtest_jigsaw_balanced_12180.csv`, no header; sources.json pins its URL), the demo's data: balance
moves a bias-free probe's direction, so the paper's neurons need the paper's data.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from .. import XdetoxError

#: `interpret.probe.source` → the file in the data-folder layout
PROBE_SOURCES = {"jigsaw-balanced": "jigsaw-subsets/robtest_jigsaw_balanced_12180.csv"}


def load_probe_rows(path: str | Path, source: str, max_rows: int | None = None, seed: int = 0) -> list[tuple[str, int]]:
    """The probe's (text, label) rows of `interpret.probe.source`'s file format, `max_rows` drawn at random."""
    rows = read_jigsaw_train(path) if source == "jigsaw-train" else load_labelled_csv(path)
    if max_rows is not None and max_rows < len(rows):
        rows = random.Random(seed).sample(rows, max_rows)
    return rows


def read_jigsaw_train(path: str | Path) -> list[tuple[str, int]]:
    """(comment_text, toxic) of Kaggle's Jigsaw train.csv (id, comment_text, toxic, severe_toxic, ...; comments hold
    quoted newlines, so the csv module reads records, not lines)."""
    path = Path(path)
    if not path.exists():
        raise XdetoxError(f"{path}: Jigsaw train.csv not found (config key interpret.probe.path)")
    rows: list[tuple[str, int]] = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"comment_text", "toxic"} - set(reader.fieldnames or [])
        if missing:
            raise XdetoxError(f"{path}:1: header lacks {', '.join(sorted(missing))}; expected Kaggle's train.csv "
                              f"(id, comment_text, toxic, ...), got {reader.fieldnames}")
        for row in reader:
            label = (row["toxic"] or "").strip()
            if label not in ("0", "1"):
                raise XdetoxError(f"{path}:{reader.line_num}: toxic {label!r} is not 0 or 1")
            rows.append((row["comment_text"], int(label)))
    if len({label for _, label in rows}) < 2:
        raise XdetoxError(f"{path}: the probe needs both labels, found only {sorted({l for _, l in rows})}")
    return rows


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
