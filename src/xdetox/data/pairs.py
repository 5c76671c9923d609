"""English preference pairs `{id, prompt, chosen, rejected}` for DPO (paper §3; reference xg/training/dpo.py).

Two sources:
- ``toxicity-pairwise``: Lee et al. (2024)'s pairs, the paper's training data: JSON lines with ``prompt_text``,
  ``unpert_gen_text`` (non-toxic, *chosen*) and ``pert_gen_text`` (PPLM-perturbed toxic, *rejected*).
- ``paradetox``: built offline from ParaDetox (s-nlp/paradetox), English toxic sentences with crowd-written neutral
  paraphrases. A pair is made from each toxic sentence and its first non-empty paraphrase when they share a leading
  run of words: that shared run is the prompt, the rest of the paraphrase is the chosen continuation and the rest
  of the toxic sentence the rejected one (e.g. "he had steel balls too !" / "he was brave too!" gives prompt "he",
  chosen " was brave too!", rejected " had steel balls too !"). Rows with no shared first word are dropped
  (about 36%), which keeps every pair a true continuation of its prompt, as in Lee et al.'s data.
"""

from __future__ import annotations

import csv
import io
import logging
import random
from pathlib import Path

from .. import XdetoxError
from ..io import iter_jsonl_lines, read_text

log = logging.getLogger("xdetox.data")

#: above this share of degenerate pairs (chosen == rejected, exact duplicates) the data is more likely broken than noisy
MAX_DROPPED_FRACTION = 0.1

LEE_FIELDS = ("prompt_text", "unpert_gen_text", "pert_gen_text")


def _check_text(value, path, lineno, field) -> str:
    if not isinstance(value, str) or not value.strip():
        raise XdetoxError(f"{path}:{lineno}: field {field!r} is empty or not text")
    return value


def load_toxicity_pairwise(path: str | Path) -> list[dict]:
    """Read Lee et al.'s pairs from a .jsonl file or every *.jsonl file of a folder (sorted by name)."""
    path = Path(path)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise XdetoxError(f"{path}: no *.jsonl files")
    pairs = []
    for file in files:
        # ids count records (stable whatever the blank lines); errors name the file's line
        for n, (line, raw) in enumerate(iter_jsonl_lines(file, required=LEE_FIELDS), start=1):
            prompt = _check_text(raw["prompt_text"], file, line, "prompt_text")
            chosen = _check_text(raw["unpert_gen_text"], file, line, "unpert_gen_text")
            rejected = _check_text(raw["pert_gen_text"], file, line, "pert_gen_text")
            pairs.append({"id": f"{file.stem}:{n}", "prompt": prompt, "chosen": chosen, "rejected": rejected})
    return pairs


def _shared_prefix_words(a: list[str], b: list[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n].lower() == b[n].lower():
        n += 1
    return n


def load_paradetox(path: str | Path) -> list[dict]:
    """Build pairs from paradetox.tsv (header: toxic, neutral1, neutral2, neutral3) as described above."""
    path = Path(path)
    pairs = []
    with io.StringIO(read_text(path), newline="") as handle:  # read_text: file:line errors for a non-UTF-8 file
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if not header or header[0].strip() != "toxic":
            raise XdetoxError(f"{path}:1: expected a header starting with 'toxic', got {header!r}")
        for lineno, row in enumerate(reader, start=2):
            if not row or not row[0].strip():
                continue
            neutral = next((cell for cell in row[1:] if cell.strip()), None)
            if neutral is None:
                continue
            toxic_words, neutral_words = row[0].split(), neutral.split()
            n = _shared_prefix_words(toxic_words, neutral_words)
            if n == 0 or n >= len(toxic_words) or n >= len(neutral_words):
                continue
            pairs.append({
                "id": f"paradetox:{lineno}",
                "prompt": " ".join(toxic_words[:n]),
                "chosen": " " + " ".join(neutral_words[n:]),
                "rejected": " " + " ".join(toxic_words[n:]),
            })
    if not pairs:
        raise XdetoxError(f"{path}: no usable pairs")
    return pairs


def _normalised(text: str) -> str:
    return " ".join(text.split())


def drop_degenerate(pairs: list[dict], max_dropped_fraction: float = MAX_DROPPED_FRACTION) -> list[dict]:
    """Drop pairs that teach DPO nothing or twice: chosen == rejected once whitespace is normalised (zero preference
    signal) and exact repeats of an earlier (prompt, chosen, rejected). Counts go to the log; more than
    `max_dropped_fraction` of the pairs dropped raises an XdetoxError (the data is likely broken, not noisy)."""
    kept, identical, repeated, seen = [], [], [], set()
    for pair in pairs:
        triple = (pair["prompt"], pair["chosen"], pair["rejected"])
        if _normalised(pair["chosen"]) == _normalised(pair["rejected"]):
            identical.append(pair["id"])
        elif triple in seen:
            repeated.append(pair["id"])
        else:
            seen.add(triple)
            kept.append(pair)
    dropped = len(identical) + len(repeated)
    if dropped:
        examples = ", ".join((identical + repeated)[:3])
        log.warning("preference pairs: dropped %d of %d: %d with chosen == rejected (after whitespace normalisation), "
                    "%d exact duplicate(s); e.g. %s", dropped, len(pairs), len(identical), len(repeated), examples)
    else:
        log.info("preference pairs: none of %d is degenerate (chosen == rejected, or an exact duplicate)", len(pairs))
    if pairs and dropped / len(pairs) > max_dropped_fraction:
        raise XdetoxError(
            f"preference pairs: {dropped} of {len(pairs)} ({dropped / len(pairs):.1%}) are degenerate "
            f"({len(identical)} with chosen == rejected, {len(repeated)} exact duplicates; e.g. {examples}), more "
            f"than the allowed {max_dropped_fraction:.1%}: check the pairs file (are chosen and rejected swapped or "
            "copied?)"
        )
    return kept


def filter_and_split(pairs: list[dict], max_chars: int, val_fraction: float, seed: int,
                     max_pairs: int | None = None,
                     max_dropped_fraction: float = MAX_DROPPED_FRACTION) -> tuple[list[dict], list[dict]]:
    """Degenerate pairs dropped (drop_degenerate), the reference code's filter (character lengths) and a seeded
    train/validation split.

    Keeps pairs with len(prompt)+len(chosen) <= max_chars and len(prompt)+len(rejected) <= max_chars, optionally a
    seeded subset of `max_pairs`, then holds out `val_fraction` (at least one pair) for validation.
    """
    pairs = drop_degenerate(pairs, max_dropped_fraction)
    kept = [p for p in pairs
            if len(p["prompt"]) + len(p["chosen"]) <= max_chars and len(p["prompt"]) + len(p["rejected"]) <= max_chars]
    rng = random.Random(seed)
    order = list(range(len(kept)))
    rng.shuffle(order)
    if max_pairs is not None:
        order = order[:max_pairs]
    if len(order) < 2:
        raise XdetoxError(f"only {len(order)} preference pair(s) left after filtering (max_chars={max_chars}); need 2+")
    n_val = max(1, round(len(order) * val_fraction))
    val = [kept[i] for i in sorted(order[:n_val])]
    train = [kept[i] for i in sorted(order[n_val:])]
    return train, val
