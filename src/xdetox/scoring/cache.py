"""One persistent, content-addressed score cache (SQLite, WAL) and the CachedScorer that puts it in front of a scorer.

Key: sha256 of (scorer id, scorer version, sorted attributes, language, text) — a score is reused only for exactly the
same question asked of exactly the same scorer. Value: the Score as JSON. Nothing else is stored (no texts).

Durability: every result is committed on its own transaction as it arrives (WAL + synchronous=NORMAL survives a
killed process; only a power cut can lose the last commits), so `kill -9` loses only the requests in flight. Several
processes (parallel Snakemake jobs) may share the file: SQLite serialises their writes, waiting up to `busy_timeout`.

Failing early: every SQLite error is raised as CacheError naming the file and what to do (restore, delete, point
config key resources_dir elsewhere). Before CachedScorer sends its first request it checks that the file is intact
(PRAGMA quick_check) and writable (a write rolled back), so a damaged or read-only cache costs no quota.

No text is requested twice by processes sharing a cache: a streaming (remote, quota-billed) scorer asks for its misses
while holding an exclusive advisory lock (flock) on ``<cache>.lock``, and re-reads the cache once it holds the lock, so
a process that waited gets as hits everything the other one just scored. We chose one lock over per-text claims:
it needs no claim table, no owner/heartbeat bookkeeping and no stale-claim takeover — the kernel drops the lock when
its holder exits, even on kill -9 — and because the quota belongs to the key, not to the process, two processes
requesting at the configured rate each would only double the rate and earn 429s; taking turns keeps their sum at
the quota. The cost: a second job sharing the cache waits (its log says for which process) while the first one scores
a language. Local scorers (hf-classifier, detoxify) cost no quota and do not take the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .base import Score, Scorer, ScoringError

log = logging.getLogger("xdetox.scoring")


CACHE_KEY = "resources_dir"  # the score cache is {resources_dir}/cache/scores.sqlite


class CacheError(ScoringError):
    pass


_DAMAGED = ("the file is damaged: restore it from a backup, or delete it together with its -wal and -shm files to "
            "start an empty cache (every text is then scored again, which spends quota), or point config key "
            f"{CACHE_KEY} at another folder")
_NOT_WRITABLE = ("the file or its folder is not writable here: fix the permissions, or point config key "
                 f"{CACHE_KEY} at a writable path (copy the file there to keep its scores)")


def _advice(err: sqlite3.Error, busy_timeout: float) -> str:
    """What to do about an SQLite error, from its result code (Python 3.11+) or, failing that, its message."""
    name = getattr(err, "sqlite_errorname", "") or ""
    text = str(err).lower()
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return _DAMAGED
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")) \
            or "readonly" in text or "unable to open" in text:
        return _NOT_WRITABLE
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return (f"another process kept the cache locked for more than {busy_timeout:g} s: let it finish, or point "
                f"config key {CACHE_KEY} at another folder")
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return f"the disk is full: free space, or point config key {CACHE_KEY} at another file system"
    if name.startswith("SQLITE_IOERR") or "disk i/o" in text:
        return (f"reading or writing the file failed: check the file system, restore the file from a backup, or point "
                f"config key {CACHE_KEY} at another folder")
    return (f"restore the file from a backup, delete it (its scores are then asked again), or point config key "
            f"{CACHE_KEY} at another folder")


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
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._db = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CacheError(f"score cache {self.path}: cannot create its folder ({err.strerror}); "
                             f"{_NOT_WRITABLE}") from None
        with self._sqlite("open"):
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

    @contextlib.contextmanager
    def _sqlite(self, action: str):
        """Turn any SQLite error inside the block into a CacheError naming the file and what to do."""
        try:
            yield
        except sqlite3.Error as err:
            if action == "open" and self._db is not None:
                self._db.close()
            raise CacheError(f"score cache {self.path}: cannot {action} ({err}); "
                             f"{_advice(err, self.busy_timeout)}") from None

    def verify(self) -> None:
        """Raise CacheError unless the file is intact (PRAGMA quick_check) and this process can write to it.

        The write is a real insert, rolled back: only an attempt to write shows a read-only file, folder or mount.
        """
        with self._lock:
            with self._sqlite("check the file's integrity"):
                problems = [row[0] for row in self._db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                shown = "; ".join(str(p) for p in problems[:3])
                raise CacheError(f"score cache {self.path}: the integrity check failed ({shown}); {_DAMAGED}")
            with self._sqlite("write to the file"):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute("INSERT OR REPLACE INTO scores VALUES ('write-probe', '', '', '', '{}', 0)")
                finally:
                    self._db.execute("ROLLBACK")

    @contextlib.contextmanager
    def exclusive(self):
        """Hold the cache's advisory lock (see the module docstring); released on exit, or by the kernel if the
        process dies."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise CacheError(f"score cache {self.path}: cannot open its lock file {lock_path} ({err.strerror}); "
                             f"{_NOT_WRITABLE}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
                log.info("score cache %s: waiting for process %s, which is scoring with this cache, so that no text "
                         "is requested twice", self.path, holder)
                started = time.monotonic()
                fcntl.flock(fd, fcntl.LOCK_EX)
                log.info("score cache %s: got the lock after %.1f s", self.path, time.monotonic() - started)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing the only descriptor releases the flock

    def __enter__(self) -> "ScoreCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        with self._lock, self._sqlite("count its scores"):
            return self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]

    def get_many(self, keys: Sequence[str]) -> dict[str, Score]:
        found: dict[str, Score] = {}
        keys = list(keys)
        with self._lock, self._sqlite("read scores"):
            for start in range(0, len(keys), self._LOOKUP_BATCH):
                batch = keys[start : start + self._LOOKUP_BATCH]
                marks = ",".join("?" * len(batch))
                for key, value in self._db.execute(f"SELECT key, value FROM scores WHERE key IN ({marks})", batch):
                    try:
                        found[key] = score_from_json(value)
                    except (ValueError, KeyError, TypeError, AttributeError):
                        raise CacheError(f"score cache {self.path}: the stored value of key {key} is not a score; "
                                         f"{_DAMAGED}") from None
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
        with self._lock, self._sqlite("store scores"):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def records(self, scorers: Sequence[str] = ()) -> list[tuple[str, str, str, str, Score, float]]:
        """Every stored (key, scorer, version, lang, score, created), or those of `scorers`, in a stable order."""
        query = "SELECT key, scorer, version, lang, value, created FROM scores WHERE key != 'write-probe'"
        args = list(scorers)
        if args:
            query += f" AND scorer IN ({','.join('?' * len(args))})"
        with self._lock, self._sqlite("read scores"):
            rows = self._db.execute(query + " ORDER BY scorer, version, lang, key", args).fetchall()
        return [(key, scorer, version, lang, score_from_json(value), created)
                for key, scorer, version, lang, value, created in rows]

    def add_records(self, rows: Sequence[tuple[str, str, str, str, Score, float]]) -> None:
        """Insert new (key, scorer, version, lang, score, created) rows in one transaction; a key already stored is
        an error and nothing is written (an import must never overwrite a score)."""
        with self._lock, self._sqlite("store scores"):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?)",
                                     [(key, scorer, version, lang, score_to_json(score), created)
                                      for key, scorer, version, lang, score, created in rows])
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock, self._sqlite("close the file"):
            self._db.close()


class CachedScorer(Scorer):
    """A Scorer that answers from the cache and asks `inner` only for texts it has never scored.

    Within a call, identical texts are asked once. Misses go to the inner scorer in chunks of `chunk_size` (a streaming
    scorer such as Perspective gets them all at once and each result is stored the moment it arrives); every chunk's
    results are committed before the next chunk starts, so an interrupted run resumes where it stopped.

    Before the first text goes to the inner scorer, the cache is verified (intact and writable): a cache that could not
    keep the answers must not cost a request. A streaming scorer's misses are asked under the cache's exclusive lock
    (see the module docstring).
    """

    def __init__(self, inner: Scorer, cache: ScoreCache, chunk_size: int = 256):
        self.inner = inner
        self.cache = cache
        self.chunk_size = chunk_size
        self._verified = False
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
        if missing and not self._verified:
            self.cache.verify()
            self._verified = True
        with self.cache.exclusive() if missing and self.streams_results else contextlib.nullcontext():
            if missing and self.streams_results:
                # another process may have scored some of them while we waited for the lock
                known.update(self.cache.get_many([key for key, _ in missing]))
                missing = [(key, text) for key, text in missing if key not in known]
            self.counts["hits"] += len(distinct) - len(missing)
            self.counts["misses"] += len(missing)
            log.info("%s [%s] lang %s: %d texts, %d distinct, %d cached, %d to score", self.id, self.version, lang,
                     len(texts), len(distinct), len(distinct) - len(missing), len(missing))
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
