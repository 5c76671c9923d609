"""The persistent score cache and CachedScorer: keys, dedup, hits, crash safety (a real kill -9) and resumption."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from perspective_server import PerspectiveServer, expected_score, fast_perspective
from xdetox.scoring.base import Score, Scorer, ScoringError
from xdetox.scoring.cache import CachedScorer, CacheError, ScoreCache, cache_key
from xdetox.scoring.perspective import KEY_ENV

pytestmark = pytest.mark.timeout(60)

KEY = "sk-test-cache-5150"
SRC = Path(__file__).resolve().parents[1] / "src"


class CountingScorer(Scorer):
    """Toxicity = len(text)/100; records every batch it is asked to score."""

    id = "counting"

    def __init__(self, version="v1", fail_on=None):
        self._version = version
        self.batches: list[list[str]] = []
        self.fail_on = fail_on

    @property
    def version(self):
        return self._version

    def score(self, texts, lang):
        self.batches.append(list(texts))
        if self.fail_on is not None and self.fail_on in texts:
            raise ScoringError(f"cannot score {self.fail_on!r}")
        return [Score(len(t) / 100, {"TOXICITY": len(t) / 100}) for t in texts]


def test_cache_key_separates_every_part_of_the_question():
    base = cache_key("perspective", "v1", ["TOXICITY", "INSULT"], "de", "text")
    assert base == cache_key("perspective", "v1", ["INSULT", "TOXICITY"], "de", "text")  # order of attributes: same
    others = {
        cache_key("hf-classifier", "v1", ["TOXICITY", "INSULT"], "de", "text"),
        cache_key("perspective", "v2", ["TOXICITY", "INSULT"], "de", "text"),
        cache_key("perspective", "v1", ["TOXICITY"], "de", "text"),
        cache_key("perspective", "v1", ["TOXICITY", "INSULT"], "en", "text"),
        cache_key("perspective", "v1", ["TOXICITY", "INSULT"], "de", "text "),
        # no separator trick makes two questions collide
        cache_key("perspective", "v1", ["TOXICITY", "INSULT"], "de\0", "text"),
    }
    assert base not in others and len(others) == 6


def test_cache_persists_in_wal_mode_and_refuses_made_up_numbers(tmp_path):
    path = tmp_path / "cache.sqlite"
    with ScoreCache(path) as cache:
        cache.put("k1", Score(0.25, {"TOXICITY": 0.25, "INSULT": 0.125}), scorer="s", version="v", lang="en")
        with pytest.raises(CacheError, match="outside"):
            cache.put("k2", Score(math.nan, {}), scorer="s", version="v", lang="en")
        with pytest.raises(CacheError, match="outside"):
            cache.put("k3", Score(0.5, {"INSULT": 1.5}), scorer="s", version="v", lang="en")
    with ScoreCache(path) as cache:
        assert cache.get("k1") == Score(0.25, {"TOXICITY": 0.25, "INSULT": 0.125})
        assert cache.get("k2") is None and len(cache) == 1
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cache_is_thread_safe(tmp_path):
    with ScoreCache(tmp_path / "c.sqlite") as cache:
        def write(t):
            for i in range(50):
                cache.put(f"{t}-{i}", Score(i / 100), scorer="s", version="v", lang="en")
                assert cache.get(f"{t}-{i}") == Score(i / 100)

        threads = [threading.Thread(target=write, args=(t,)) for t in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(cache) == 300


def test_cached_scorer_dedups_serves_hits_and_counts(tmp_path):
    inner = CountingScorer()
    scorer = CachedScorer(inner, ScoreCache(tmp_path / "c.sqlite"))
    first = scorer.score(["a", "bb", "a", "ccc", "bb"], "en")
    assert [s.toxicity for s in first] == [0.01, 0.02, 0.01, 0.03, 0.02]
    assert inner.batches == [["a", "bb", "ccc"]]
    second = scorer.score(["ccc", "dddd", "a"], "en")
    assert [s.toxicity for s in second] == [0.03, 0.04, 0.01]
    assert inner.batches[-1] == ["dddd"]
    assert scorer.stats == {"texts": 8, "hits": 2, "misses": 4, "requests": 4, "stored": 4}
    scorer.score(["a"], "de")  # another language is another question
    assert inner.batches[-1] == ["a"]
    scorer.close()
    # a new scorer version never reuses the old answers
    inner_v2 = CountingScorer(version="v2")
    CachedScorer(inner_v2, ScoreCache(tmp_path / "c.sqlite")).score(["a"], "en")
    assert inner_v2.batches == [["a"]]


def test_chunks_are_stored_as_they_complete(tmp_path):
    inner = CountingScorer(fail_on="t4")
    scorer = CachedScorer(inner, ScoreCache(tmp_path / "c.sqlite"), chunk_size=2)
    texts = [f"t{i}" for i in range(6)]
    with pytest.raises(ScoringError, match="t4"):
        scorer.score(texts, "en")
    assert inner.batches == [["t0", "t1"], ["t2", "t3"], ["t4", "t5"]]
    inner.fail_on = None
    scorer.score(texts, "en")
    assert inner.batches[-1] == ["t4", "t5"]  # the first two chunks came from the cache


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with PerspectiveServer(key=KEY) as srv:
        yield srv


def perspective(url, **kw):
    return fast_perspective(url, **{"concurrency": 3, **kw})


def test_perspective_results_are_cached_as_they_arrive_even_when_one_text_fails(tmp_path, server):
    server.inject("503", texts={"bad"})
    texts = [f"ok {i}" for i in range(10)] + ["bad"]
    scorer = CachedScorer(perspective(server.url), ScoreCache(tmp_path / "c.sqlite"))
    with pytest.raises(ScoringError, match="'bad'"):
        scorer.score(texts, "en")
    assert scorer.stats["stored"] == 10
    server.clear()
    scores = scorer.score(texts, "en")
    assert server.texts() == ["bad"]  # only the failed text is asked again
    assert [s.toxicity for s in scores] == [expected_score(t) for t in texts]
    server.clear()
    scorer.score(texts, "en")
    assert server.count() == 0
    assert scorer.stats["http_requests"] == 3 + 10 + 1


KILLED_RUN = """
import sys
from xdetox.scoring.cache import CachedScorer, ScoreCache
from xdetox.scoring.perspective import PerspectiveScorer
url, cache, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
scorer = CachedScorer(PerspectiveScorer(url, rate=40, concurrency=2, timeout=5), ScoreCache(cache))
scorer.score([f"text {i}" for i in range(n)], "de")
print("finished")
"""


def test_a_run_killed_midway_loses_nothing_and_rerequests_nothing(tmp_path, server):
    n, kill_after, concurrency = 80, 30, 2
    texts = [f"text {i}" for i in range(n)]
    cache_path = tmp_path / "cache.sqlite"
    env = {**os.environ, KEY_ENV: KEY, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, server.url, str(cache_path), str(n)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while server.count() < kill_after:
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the child never got going"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    answered = server.ok_sent
    assert answered < n

    probe = CachedScorer(perspective(server.url), ScoreCache(cache_path))
    cached = {t for t in texts if probe.cache.get(probe.key(t, "de")) is not None}
    # everything answered before the kill is in the cache, except at most the responses still in flight
    assert answered - concurrency <= len(cached) <= answered

    server.clear()
    scores = probe.score(texts, "de")
    resent = server.texts()
    assert sorted(resent) == sorted(set(texts) - cached)  # each missing text once, no cached text again
    assert [s.toxicity for s in scores] == [expected_score(t) for t in texts]
    server.clear()
    probe.score(texts, "de")
    assert server.count() == 0
