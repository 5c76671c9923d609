"""One persistent, content-addressed score cache (SQLite, WAL) and the CachedScorer that puts it in front of a scorer.

Key: sha256 of (scorer id, scorer version, sorted attributes, language, text) — a score is reused only for exactly the
same question asked of exactly the same scorer. Value: the Score as JSON. Nothing else is stored (no texts).

Durability: every result is committed on its own transaction as it arrives (WAL + synchronous=NORMAL survives a
killed process; only a power cut can lose the last commits), so `kill -9` loses only the requests in flight. Several
processes (parallel Snakemake jobs) may share the file: SQLite serialises their writes, waiting up to `busy_timeout`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .base import Score, Scorer, ScoringError

log = logging.getLogger("xdetox.scoring")


class CacheError(ScoringError):
    pass


def cache_key(scorer_id: str, version: str, attributes: Iterable[str], lang: str, text: str) -> str:
    # JSON of a list is an unambiguous encoding: no separator inside a text can make two questions collide
    question = json.dumps([scorer_id, version, sorted(attributes), lang, text], ensure_ascii=False)
    return hashlib.sha256(question.encode("utf-8")).hexdigest()


def score_to_json(score: Score) -> str:
    return json.dumps({"toxicity": score.toxicity, "attributes": score.attributes}, sort_keys=True)


def score_from_json(value: str) -> Score:
    data = json.loads(value)
    return Score(toxicity=float(data["toxicity"]), attributes={k: float(v) for k, v in data["attributes"].items()})


class ScoreCache:
    """Thread-safe key → Score store in one SQLite file."""

    _LOOKUP_BATCH = 500  # stay well under SQLite's limit on bound variables

    def __init__(self, path: str | os.PathLike, busy_timeout: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            # autocommit mode (isolation_level=None): each put is its own committed transaction
            self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS scores ("
                " key TEXT PRIMARY KEY, scorer TEXT NOT NULL, version TEXT NOT NULL, lang TEXT NOT NULL,"
                " value TEXT NOT NULL, created REAL NOT NULL)"
            )
        except sqlite3.Error as err:
            raise CacheError(f"{self.path}: cannot open the score cache ({err})") from None

    def __enter__(self) -> "ScoreCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]

    def get_many(self, keys: Sequence[str]) -> dict[str, Score]:
        found: dict[str, Score] = {}
        keys = list(keys)
        with self._lock:
            for start in range(0, len(keys), self._LOOKUP_BATCH):
                batch = keys[start : start + self._LOOKUP_BATCH]
                marks = ",".join("?" * len(batch))
                for key, value in self._db.execute(f"SELECT key, value FROM scores WHERE key IN ({marks})", batch):
                    found[key] = score_from_json(value)
        return found

    def get(self, key: str) -> Score | None:
        return self.get_many([key]).get(key)

    def put(self, key: str, score: Score, *, scorer: str, version: str, lang: str) -> None:
        self.put_many({key: score}, scorer=scorer, version=version, lang=lang)

    def put_many(self, scores: Mapping[str, Score], *, scorer: str, version: str, lang: str) -> None:
        """Store scores in one committed transaction. A score that is not a finite number in [0, 1] is refused."""
        rows = []
        for key, score in scores.items():
            values = [score.toxicity, *score.attributes.values()]
            if not all(isinstance(v, (int, float)) and math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
                raise CacheError(f"scorer {scorer} ({version}) returned a score outside [0, 1] for lang {lang!r}: "
                                 f"{score}; not cached")
            rows.append((key, scorer, version, lang, score_to_json(score), time.time()))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedScorer(Scorer):
    """A Scorer that answers from the cache and asks `inner` only for texts it has never scored.

    Within a call, identical texts are asked once. Misses go to the inner scorer in chunks of `chunk_size` (a streaming
    scorer such as Perspective gets them all at once and each result is stored the moment it arrives); every chunk's
    results are committed before the next chunk starts, so an interrupted run resumes where it stopped.
    """

    def __init__(self, inner: Scorer, cache: ScoreCache, chunk_size: int = 256):
        self.inner = inner
        self.cache = cache
        self.chunk_size = chunk_size
        self.id = inner.id
        self.streams_results = inner.streams_results
        #: texts asked for; of the distinct ones, served from the cache (hits) or not (misses); texts sent to the
        #: inner scorer (requests) and stored (stored). Cumulative over calls.
        self.counts = {"texts": 0, "hits": 0, "misses": 0, "requests": 0, "stored": 0}

    def __repr__(self) -> str:
        return f"CachedScorer({self.inner!r}, cache={str(self.cache.path)!r})"

    @property
    def version(self) -> str:
        return self.inner.version

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.inner.attributes

    @property
    def stats(self) -> dict:
        """Counts for logging, plus the inner scorer's own (e.g. Perspective's http_requests and retries)."""
        return {**self.counts, **getattr(self.inner, "stats", {})}

    def key(self, text: str, lang: str) -> str:
        return cache_key(self.inner.id, self.inner.version, self.inner.attributes, lang, text)

    def score(self, texts: Sequence[str], lang: str) -> list[Score]:
        keys = [self.key(t, lang) for t in texts]
        distinct: dict[str, str] = {}
        for key, text in zip(keys, texts):
            distinct.setdefault(key, text)
        known = self.cache.get_many(list(distinct))
        missing = [(key, text) for key, text in distinct.items() if key not in known]
        self.counts["texts"] += len(texts)
        self.counts["hits"] += len(known)
        self.counts["misses"] += len(missing)
        log.info("%s [%s] lang %s: %d texts, %d distinct, %d cached, %d to score", self.id, self.version, lang,
                 len(texts), len(distinct), len(known), len(missing))
        step = len(missing) if self.streams_results else self.chunk_size
        for start in range(0, len(missing), max(step, 1)):
            known.update(self._score_and_store(missing[start : start + step], lang))
        return [known[key] for key in keys]

    def _score_and_store(self, chunk: list[tuple[str, str]], lang: str) -> dict[str, Score]:
        texts = [text for _, text in chunk]
        self.counts["requests"] += len(texts)
        got: dict[str, Score] = {}
        meta = dict(scorer=self.inner.id, version=self.inner.version, lang=lang)
        if self.streams_results:
            for i, score in self.inner.iter_score(texts, lang):
                self.cache.put(chunk[i][0], score, **meta)  # committed now: a crash later loses nothing of it
                got[chunk[i][0]] = score
                self.counts["stored"] += 1
        else:
            scores = dict(self.inner.iter_score(texts, lang))
            got = {chunk[i][0]: s for i, s in scores.items()}
            self.cache.put_many(got, **meta)
            self.counts["stored"] += len(got)
        absent = [text for key, text in chunk if key not in got]
        if absent:
            raise ScoringError(f"scorer {self.id} returned no score for {len(absent)} text(s) in lang {lang!r}, "
                               f"e.g. {absent[0][:60]!r}")
        return got

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.cache.close()
