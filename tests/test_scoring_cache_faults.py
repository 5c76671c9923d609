"""The score cache when the file cannot do its job — damaged, read-only, not a database — and when two processes
share it: errors name the file and what to do, no request is spent on a cache that cannot keep the answer, and no
text is requested twice. Request counts are the server's."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perspective_server import PerspectiveServer, expected_score, fast_perspective
from xdetox.scoring.base import Score, ScoringError
from xdetox.scoring.cache import CachedScorer, CacheError, ScoreCache
from xdetox.scoring.perspective import KEY_ENV
from xdetox.scoring.registry import open_cached_scorer

pytestmark = pytest.mark.timeout(60)

KEY = "sk-cache-faults-77"
SRC = Path(__file__).resolve().parents[1] / "src"
TEXTS = [f"cache fault text {i}" for i in range(8)]


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with PerspectiveServer(key=KEY) as srv:
        yield srv


def perspective(url, **kw):
    return fast_perspective(url, **kw)


def filled_cache(path: Path, n: int = 3000) -> Path:
    with ScoreCache(path) as cache:
        cache.put_many({f"k{i:05d}": Score(0.5, {"TOXICITY": 0.5}) for i in range(n)}, scorer="s", version="v",
                       lang="en")
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, so damage there is damage
    db.close()
    return path


def test_a_damaged_page_is_found_before_any_request_and_named(tmp_path, server):
    path = filled_cache(tmp_path / "cache.sqlite")
    with open(path, "r+b") as handle:
        handle.seek(4096 * 5)
        handle.write(os.urandom(4096 * 2))
    scorer = CachedScorer(perspective(server.url), ScoreCache(path))  # opens: the damage is not on page 1
    with pytest.raises(CacheError) as info:
        scorer.score(TEXTS, "en")
    message = str(info.value)
    assert str(path) in message and "damaged" in message and "delete it" in message and "resources_dir" in message
    assert server.count() == 0


def test_a_file_that_is_not_a_database_is_named_on_open(tmp_path, server):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not an sqlite file at all" * 200)
    with pytest.raises(CacheError) as info:
        open_cached_scorer("perspective", {"endpoint": server.url}, path)
    assert str(path) in str(info.value) and "restore it from a backup" in str(info.value)
    assert not isinstance(info.value.__context__, sqlite3.Error) or info.value.__suppress_context__


def test_a_read_only_cache_costs_no_request_but_still_serves_its_hits(tmp_path, server):
    path = tmp_path / "cache.sqlite"
    CachedScorer(perspective(server.url), ScoreCache(path)).score(TEXTS[:4], "en")
    server.clear()
    cache = ScoreCache(path)
    # what a read-only file, folder or mount does to every write (root ignores file modes, so simulate it)
    cache._db.execute("PRAGMA query_only = ON")
    scorer = CachedScorer(perspective(server.url), cache)
    assert [s.toxicity for s in scorer.score(TEXTS[:4], "en")] == [expected_score(t) for t in TEXTS[:4]]
    with pytest.raises(CacheError) as info:
        scorer.score(TEXTS, "en")
    assert str(path) in str(info.value) and "not writable" in str(info.value)
    assert server.count() == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_read_only_file_costs_no_request(tmp_path, server):
    path = tmp_path / "cache.sqlite"
    CachedScorer(perspective(server.url), ScoreCache(path)).score(TEXTS[:1], "en")
    server.clear()
    path.chmod(0o444)
    try:
        with pytest.raises(CacheError, match="not writable"):
            CachedScorer(perspective(server.url), ScoreCache(path)).score(TEXTS, "en")
    finally:
        path.chmod(0o644)
    assert server.count() == 0


def test_every_sqlite_error_names_the_file(tmp_path):
    path = filled_cache(tmp_path / "cache.sqlite", n=50)
    cache = ScoreCache(path)
    cache._db.execute("DROP TABLE scores")  # whatever goes wrong inside SQLite
    for action in (lambda: len(cache), lambda: cache.get("k00001"),
                   lambda: cache.put("k", Score(0.1), scorer="s", version="v", lang="en")):
        with pytest.raises(CacheError, match=str(path)):
            action()
    cache._db.execute("CREATE TABLE scores (key TEXT PRIMARY KEY, scorer, version, lang, value, created)")
    cache._db.execute("INSERT INTO scores VALUES ('bad', 's', 'v', 'en', 'not json', 0)")
    with pytest.raises(CacheError, match="not a score"):
        cache.get("bad")
    cache.close()


def test_an_uncreatable_cache_folder_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheError, match="cannot create its folder"):
        ScoreCache(blocker / "sub" / "cache.sqlite")


TWIN = """
import sys, time
from xdetox.scoring.cache import CachedScorer, ScoreCache
from xdetox.scoring.perspective import PerspectiveScorer
url, cache, n, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
scorer = CachedScorer(PerspectiveScorer(url, rate=200, concurrency=2, timeout=5), ScoreCache(cache))
while time.time() < start_at:  # both processes start asking at the same moment
    time.sleep(0.001)
scores = scorer.score([f"shared text {i}" for i in range(n)], "de")
print(scorer.stats["requests"], ",".join(repr(s.toxicity) for s in scores))
"""


def test_two_processes_sharing_a_cache_never_request_the_same_text_twice(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    n = 40
    texts = [f"shared text {i}" for i in range(n)]
    with PerspectiveServer(key=KEY, latency=0.01) as srv:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
        start_at = time.time() + 2.0  # after both interpreters have imported requests
        children = [subprocess.Popen([sys.executable, "-c", TWIN, srv.url, str(tmp_path / "c.sqlite"), str(n),
                                      str(start_at)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True) for _ in range(2)]
        outputs = [child.communicate(timeout=45) for child in children]
        assert all(child.returncode == 0 for child in children), outputs
        sent = srv.texts()
    assert sorted(sent) == sorted(texts)  # every text exactly once, across both processes
    requested = [int(out.split()[0]) for out, _ in outputs]
    assert sorted(requested) == [0, n]  # one process asked for all, the other found them in the cache
    expected = ",".join(repr(expected_score(t)) for t in texts)
    assert all(out.split()[1] == expected for out, _ in outputs)


def test_the_lock_is_released_when_scoring_fails(tmp_path, server):
    server.inject("503", texts={"doomed"})
    cache = ScoreCache(tmp_path / "c.sqlite")
    with pytest.raises(ScoringError):
        CachedScorer(perspective(server.url), cache).score(["doomed", "fine"], "en")
    server.clear()
    started = time.monotonic()
    CachedScorer(perspective(server.url), ScoreCache(tmp_path / "c.sqlite")).score(["doomed"], "en")
    assert time.monotonic() - started < 5 and server.texts() == ["doomed"]
