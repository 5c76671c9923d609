"""Scorers built from their config sections, and a generations file scored end to end through the cache (the score
step)."""

from __future__ import annotations

import json

import pytest

from perspective_server import PerspectiveServer, expected_score
from xdetox.config import validate_config
from xdetox.scoring.base import ScoringError
from xdetox.scoring.cache import CachedScorer
from xdetox.scoring.lexicon import LexiconScorer
from xdetox.scoring.perspective import KEY_ENV, PerspectiveScorer
from xdetox.scoring.registry import make_scorer, open_cached_scorer
from xdetox.steps.score import score

pytestmark = pytest.mark.timeout(60)

KEY = "sk-test-registry-77"


def scoring_config(tmp_path, **scoring) -> dict:
    config = validate_config({"models": {"m": {"source": "path", "path": str(tmp_path), "family": "gpt2"}},
                              "scoring": scoring})
    return config["scoring"]


def test_make_scorer_reads_the_config_section(tmp_path):
    cfg = scoring_config(tmp_path, perspective={"rate": 3.5, "concurrency": 2, "attributes": ["TOXICITY"],
                                                "backoff_base": 0.1})
    scorer = make_scorer("perspective", cfg["perspective"])
    assert isinstance(scorer, PerspectiveScorer)
    assert (scorer.rate, scorer.concurrency, scorer.attributes, scorer.max_retries) == (3.5, 2, ("TOXICITY",), 10)
    assert scorer.backoff_base == 0.1 and scorer.backoff_max == 60.0
    with pytest.raises(ScoringError, match="unknown scorer 'vibes'"):
        make_scorer("vibes", {})


def test_open_cached_scorer_wraps_all_but_the_lexicon(tmp_path):
    cfg = scoring_config(tmp_path)
    cache = tmp_path / "cache" / "scores.sqlite"
    cached = open_cached_scorer("perspective", cfg["perspective"], cache)
    assert isinstance(cached, CachedScorer) and cached.id == "perspective"
    assert cache.exists()
    cached.close()
    assert isinstance(open_cached_scorer("lexicon", cfg["lexicon"], cache), LexiconScorer)


def test_score_generations_file_writes_the_contract_and_reruns_for_free(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    generations = tmp_path / "generations.jsonl"
    rows = [{"prompt_id": f"p{i // 2}", "lang": "ar", "sample": i % 2, "prompt": "x", "text": t, "n_tokens": 3,
             "seed": 0} for i, t in enumerate(["a", "b", "a", "", "c", "d"])]
    generations.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with PerspectiveServer(key=KEY) as server:
        cfg = scoring_config(tmp_path, perspective={"endpoint": server.url, "rate": 200, "concurrency": 2})["perspective"]
        cache = str(tmp_path / "c.sqlite")
        out = tmp_path / "scores" / "ar.jsonl"
        stats = score(str(generations), str(out), "perspective", cfg, cache)
        assert stats["misses"] == 5 and stats["hits"] == 0 and server.count() == 5
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert [(r["prompt_id"], r["sample"], r["scorer"]) for r in records] == [
            (r["prompt_id"], r["sample"], "perspective") for r in rows]
        assert [r["toxicity"] for r in records] == [expected_score(r["text"] or " ") for r in rows]
        assert set(records[0]["attributes"]) == {"TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT",
                                                 "PROFANITY", "THREAT"}
        first = out.read_bytes()
        server.clear()
        stats = score(str(generations), str(out), "perspective", cfg, cache)
        assert server.count() == 0 and stats["hits"] == 5 and stats["requests"] == 0
        assert out.read_bytes() == first
