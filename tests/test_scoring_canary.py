"""A canary key through a full fault battery: afterwards it is in no file the run wrote, no log record and no exception
message — even though the servers echo it in error bodies and score values, raw and URL-encoded."""

from __future__ import annotations

import logging
import traceback
from urllib.parse import quote, quote_plus

import pytest

from perspective_server import PerspectiveServer, closed_port_url, expected_score
from xdetox.io import read_jsonl, write_jsonl
from xdetox.scoring.base import ScoringError, score_records
from xdetox.scoring.cache import CachedScorer, ScoreCache
from xdetox.scoring.perspective import KEY_ENV, PerspectiveScorer

pytestmark = pytest.mark.timeout(120)

# '/', '+' and '=' make the URL-encoded spelling differ from the raw one: both are looked for
CANARY = "CANARY-7f3e/9a1c+Xq=42"
FORMS = sorted({CANARY, quote(CANARY, safe=""), quote_plus(CANARY), "CANARY-7f3e"})

ONCE = ("429", "500", "503", "malformed", "drop", "slow", "trickle", "trickle_headers", "echo_key", "bad_header",
        "bool", "string", "null", "nan", "out_of_range", "400", "403", "404")
FOREVER = ("echo_key", "500", "400", "403", "404", "bool")


def client(endpoint, **overrides):
    options = dict(rate=500.0, concurrency=3, max_retries=2, timeout=0.5, backoff_base=0.005, backoff_max=0.02,
                   breaker_failures=50, abort_after=50)
    options.update(overrides)
    return PerspectiveScorer(endpoint, **options)


def everything_said(error: BaseException) -> str:
    return "\n".join([
        str(error), repr(error), "".join(traceback.format_exception(error)),
        "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format()),
    ])


def test_the_canary_key_appears_in_no_file_log_or_message(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(KEY_ENV, CANARY)
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line, query string included, at DEBUG
    log_file = tmp_path / "run.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    errors: list[BaseException] = []
    cache_path = tmp_path / "cache" / "scores.sqlite"

    def attempt(scorer, texts, lang="de"):
        try:
            return scorer.score(texts, lang)
        except ScoringError as err:
            errors.append(err)
            return None

    try:
        with PerspectiveServer(key=CANARY, echo_key=True, slow_delay=1.0, trickle_interval=0.05,
                               trickle_max=5) as srv:
            texts = []
            for kind in ONCE:  # each fault once, then a good answer
                texts.append(f"{kind} once")
                srv.inject(kind, count=1, per_text=True, texts={texts[-1]})
            for kind in FOREVER:  # each fault on every attempt: the text fails for good
                texts.append(f"{kind} forever")
                srv.inject(kind, texts={texts[-1]})
            texts += [f"plain {i}" for i in range(6)]
            scorer = CachedScorer(client(srv.url), ScoreCache(cache_path))
            attempt(scorer, texts)

            srv.clear()
            srv.inject("403")  # a 403 storm: the circuit breaker stops the job
            attempt(CachedScorer(client(srv.url, breaker_failures=2, concurrency=1), ScoreCache(cache_path)),
                    ["storm 1", "storm 2", "storm 3"])
            srv.clear()

            generations = [{"prompt_id": str(i), "sample": 0, "lang": "de", "text": t} for i, t in enumerate(texts)]
            write_jsonl(tmp_path / "scores.jsonl", score_records(generations, scorer))  # all faults cleared: done
            scorer.close()
            assert srv.received and all(r.key == CANARY for r in srv.received)  # the canary really was sent

        with PerspectiveServer(key="somebody-elses-key", echo_key=True) as other:  # API_KEY_INVALID, key echoed
            attempt(client(other.url), ["wrong key"])
        with PerspectiveServer(key=CANARY, echo_key=True, supported_languages={"en"}) as en_only:
            attempt(client(en_only.url), ["unsupported language"], lang="hi")
        attempt(client(closed_port_url(), breaker_failures=2), ["refused 1", "refused 2"])
    finally:
        root.removeHandler(handler)
        handler.close()

    kinds = {type(e).__name__ for e in errors}
    assert kinds == {"TextNotScoredError", "PermanentFailureError", "RejectedKeyError", "LanguageNotSupportedError"}
    records = [r for r in caplog.records]
    assert any("<redacted>" in r.getMessage() for r in records)  # the key was there to blank
    assert any(r.levelno >= logging.WARNING and r.name.startswith("urllib3") for r in records)  # trickled headers

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {"run.log", "scores.jsonl", "scores.sqlite"} <= {p.name for p in written}
    for path in written:
        data = path.read_bytes()
        for form in FORMS:
            assert form.encode() not in data, f"{form!r} in {path}"
    said = [logging.Formatter().format(r) for r in records] + [everything_said(e) for e in errors]
    for text in said:
        for form in FORMS:
            assert form not in text, f"{form!r} in {text[:300]!r}"
    scores = [r["toxicity"] for r in read_jsonl(tmp_path / "scores.jsonl")]
    assert scores == [expected_score(t) for t in texts]
