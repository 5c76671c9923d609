"""Score caches exported to and imported from JSON Lines (xdetox.data.score_exchange): round trip, hits after an
import, no silent overwrite, named errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from xdetox import XdetoxError
from xdetox.data.score_exchange import export_scores, import_scores
from xdetox.scoring.base import Score, Scorer
from xdetox.scoring.cache import CachedScorer, CacheError, ScoreCache, cache_key

from helpers import REPO


class Counting(Scorer):
    """A stand-in for a remote scorer: its answers are a function of the text, and it counts what it was asked."""

    id, version = "perspective", "v1alpha1"

    def __init__(self):
        self.asked = 0

    def score(self, texts, lang):
        self.asked += len(texts)
        return [Score(len(t) / 100, {"TOXICITY": len(t) / 100}) for t in texts]

    def close(self):
        pass


def filled(path, texts=("you idiot", "thank you"), lang="de"):
    scorer = CachedScorer(Counting(), ScoreCache(path))
    scorer.score(list(texts), lang)
    scorer.close()
    return path


def test_round_trip_serves_the_imported_scores_as_hits(tmp_path):
    source = filled(tmp_path / "a.sqlite")
    with ScoreCache(source) as cache:
        assert export_scores(cache, tmp_path / "scores.jsonl") == 2
    lines = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert {tuple(sorted(r)) for r in lines} == {("created", "key", "lang", "score", "scorer", "version")}
    assert not any("idiot" in line for line in (tmp_path / "scores.jsonl").read_text().splitlines())  # no texts
    with ScoreCache(tmp_path / "b.sqlite") as cache:
        assert import_scores(cache, tmp_path / "scores.jsonl").added == 2
    inner = Counting()
    scorer = CachedScorer(inner, ScoreCache(tmp_path / "b.sqlite"))
    assert [s.toxicity for s in scorer.score(["you idiot", "thank you"], "de")] == [0.09, 0.09]
    assert inner.asked == 0  # both answered by the imported scores
    scorer.close()
    with ScoreCache(tmp_path / "b.sqlite") as cache:  # importing again changes nothing
        counts = import_scores(cache, tmp_path / "scores.jsonl")
    assert (counts.added, counts.already_present) == (0, 2)


def test_export_keeps_only_the_named_scorers(tmp_path):
    path = filled(tmp_path / "a.sqlite")
    with ScoreCache(path) as cache:
        cache.put(cache_key("learned", "h", [], "en", "x"), Score(0.5), scorer="learned", version="h", lang="en")
        assert export_scores(cache, tmp_path / "p.jsonl", ["perspective"]) == 2
        assert export_scores(cache, tmp_path / "all.jsonl") == 3


def test_an_import_never_overwrites_a_different_score(tmp_path):
    with ScoreCache(filled(tmp_path / "a.sqlite")) as cache:
        export_scores(cache, tmp_path / "scores.jsonl")
    records = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    records[1]["score"] = {"toxicity": 0.99, "attributes": {"TOXICITY": 0.99}}
    (tmp_path / "other.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    target = filled(tmp_path / "b.sqlite")
    with ScoreCache(target) as cache:
        before = cache.records()
        with pytest.raises(CacheError, match=r"other.jsonl:2: key [0-9a-f]{64} is already in .* with another score"):
            import_scores(cache, tmp_path / "other.jsonl")
        assert cache.records() == before  # nothing written


@pytest.mark.parametrize("change, says", [
    ({"key": "abc"}, "64-character hex"),
    ({"score": {"toxicity": 1.5, "attributes": {}}}, r"finite numbers in \[0, 1\]"),
    ({"score": "0.2"}, "'score' must be"),
    ({"lang": ""}, "'lang' must be a non-empty string"),
    ({"created": True}, "Unix time"),
])
def test_bad_records_are_named_with_file_and_line(tmp_path, change, says):
    good = {"key": "a" * 64, "scorer": "perspective", "version": "v", "lang": "en",
            "score": {"toxicity": 0.1, "attributes": {"TOXICITY": 0.1}}, "created": 0.0}
    (tmp_path / "s.jsonl").write_text(json.dumps(good) + "\n" + json.dumps({**good, "key": "b" * 64, **change}) + "\n")
    with ScoreCache(tmp_path / "c.sqlite") as cache:
        with pytest.raises(XdetoxError, match=f"s.jsonl:2: .*{says}"):
            import_scores(cache, tmp_path / "s.jsonl")
        assert len(cache) == 0


def test_command_line(tmp_path):
    source = filled(tmp_path / "a.sqlite")
    env = {"PYTHONPATH": str(REPO / "src")}
    run = lambda *args: subprocess.run([sys.executable, "-m", "xdetox.data.score_exchange", *map(str, args)],
                                       capture_output=True, text=True, env=env)
    out = run("export", source, tmp_path / "s.jsonl")
    assert out.returncode == 0 and "exported 2 scores" in out.stdout
    out = run("import", tmp_path / "s.jsonl", tmp_path / "b.sqlite")
    assert out.returncode == 0 and "imported 2 scores" in out.stdout
    out = run("export", tmp_path / "missing.sqlite", tmp_path / "x.jsonl")
    assert out.returncode == 1 and "no such score cache" in out.stderr
