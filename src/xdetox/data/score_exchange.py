"""Move scores between score caches as JSON Lines, so that scores collected before a service shuts down (Perspective
API: after 2026-12-31) stay usable and shareable.

One record per line, the cache's own columns: ``{"key", "scorer", "version", "lang", "score", "created"}`` where
`score` is ``{"toxicity", "attributes"}`` and `key` the SHA-256 the cache computes from (scorer id, version,
attributes, language, text) — texts are never stored, so an export holds no generated text. A receiving workflow asks
the same question (same scorer, version, attributes, language, text) and gets the imported score as a hit.

An import never overwrites a different score: a key already in the cache with another value is a conflict, reported
with the file and line, and nothing is written (one transaction). The same value already present is counted, not
rewritten. Command line::

    python -m xdetox.data.score_exchange export resources/cache/scores.sqlite scores.jsonl [--scorer perspective]
    python -m xdetox.data.score_exchange import resources/cache/scores.jsonl resources/cache/scores.sqlite
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .. import XdetoxError
from ..io import atomic_open, iter_jsonl_lines
from ..scoring.base import Score
from ..scoring.cache import CacheError, ScoreCache, score_from_json, score_to_json

FIELDS = ("key", "scorer", "version", "lang", "score", "created")
_KEY = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ImportCounts:
    added: int
    already_present: int


def export_scores(cache: ScoreCache, out: str | Path, scorers: Sequence[str] = ()) -> int:
    """Write every score of the cache (or of `scorers`) to `out` as JSON Lines, atomically; returns the count."""
    rows = cache.records(scorers)
    with atomic_open(out) as handle:
        for key, scorer, version, lang, score, created in rows:
            handle.write(json.dumps({"key": key, "scorer": scorer, "version": version, "lang": lang,
                                     "score": {"toxicity": score.toxicity, "attributes": score.attributes},
                                     "created": created}, ensure_ascii=False, sort_keys=True) + "\n")
    return len(rows)


def _record(path: Path, lineno: int, raw: dict) -> tuple[str, str, str, str, Score, float]:
    where = f"{path}:{lineno}"
    missing = [f for f in FIELDS if f not in raw]
    if missing:
        raise XdetoxError(f"{where}: missing field(s) {', '.join(missing)}")
    key = raw["key"]
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise XdetoxError(f"{where}: 'key' must be the cache's 64-character hex SHA-256, got {key!r}")
    for name in ("scorer", "version", "lang"):
        if not isinstance(raw[name], str) or not raw[name]:
            raise XdetoxError(f"{where}: '{name}' must be a non-empty string, got {raw[name]!r}")
    try:
        score = score_from_json(json.dumps(raw["score"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise XdetoxError(f"{where}: 'score' must be {{\"toxicity\": number, \"attributes\": {{name: number}}}}, "
                          f"got {raw['score']!r}") from None
    values = [score.toxicity, *score.attributes.values()]
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise XdetoxError(f"{where}: scores must be finite numbers in [0, 1], got {raw['score']!r}")
    created = raw["created"]
    if isinstance(created, bool) or not isinstance(created, (int, float)) or not math.isfinite(created):
        raise XdetoxError(f"{where}: 'created' must be a Unix time, got {created!r}")
    return key, raw["scorer"], raw["version"], raw["lang"], score, float(created)


def import_scores(cache: ScoreCache, source: str | Path) -> ImportCounts:
    """Add the scores of a JSON Lines export to the cache; a conflicting key stops the import before any write."""
    source = Path(source)
    records = [(lineno, _record(source, lineno, raw)) for lineno, raw in iter_jsonl_lines(source)]
    seen: dict[str, tuple[int, str]] = {}
    for lineno, (key, *_, score, _) in records:
        value = score_to_json(score)
        if key in seen and seen[key][1] != value:
            raise CacheError(f"{source}:{lineno}: key {key} appears twice with different scores (first at line "
                             f"{seen[key][0]}); nothing imported")
        seen[key] = (lineno, value)
    existing = cache.get_many(list(seen))
    for key, score in existing.items():
        lineno, value = seen[key]
        if score_to_json(score) != value:
            raise CacheError(f"{source}:{lineno}: key {key} is already in {cache.path} with another score "
                             f"({score_to_json(score)} there, {value} here); an import never overwrites a score, so "
                             "nothing was imported. Import into an empty cache to compare the two.")
    rows = {rec[0]: rec for _, rec in records if rec[0] not in existing}
    cache.add_records(list(rows.values()))
    return ImportCounts(added=len(rows), already_present=len(existing))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xdetox.data.score_exchange", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="cache -> JSON Lines")
    exp.add_argument("cache")
    exp.add_argument("out")
    exp.add_argument("--scorer", action="append", default=[], help="only this scorer's scores (repeatable)")
    imp = sub.add_parser("import", help="JSON Lines -> cache (never overwrites a different score)")
    imp.add_argument("source")
    imp.add_argument("cache")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            if not Path(args.cache).is_file():
                raise XdetoxError(f"{args.cache}: no such score cache")
            with ScoreCache(args.cache) as cache:
                n = export_scores(cache, args.out, args.scorer)
            print(f"exported {n} scores to {args.out}")
        else:
            with ScoreCache(args.cache) as cache:
                counts = import_scores(cache, args.source)
            print(f"imported {counts.added} scores into {args.cache} ({counts.already_present} already there)")
    except XdetoxError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
