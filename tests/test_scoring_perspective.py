"""The Perspective client against a real local HTTP server: exactly-once, faults, bounded retries, rate, secrecy."""

from __future__ import annotations

import logging
import traceback

import pytest

from perspective_server import PerspectiveServer, expected_score
from xdetox.scoring.base import ScoringError
from xdetox.scoring.perspective import (
    KEY_ENV,
    REFERENCE_ATTRIBUTES,
    LanguageNotSupportedError,
    MissingKeyError,
    PerspectiveError,
    PerspectiveScorer,
    RejectedKeyError,
    TextNotScoredError,
    TokenBucket,
)

pytestmark = pytest.mark.timeout(60)

KEY = "sk-test-Zq9xV4r7LmN2"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with PerspectiveServer(key=KEY) as srv:
        yield srv


def fast_client(url: str, **overrides) -> PerspectiveScorer:
    """A client that retries quickly (tests measure behaviour, not patience)."""
    options = dict(rate=500.0, concurrency=3, max_retries=4, timeout=2.0, backoff_base=0.005, backoff_max=0.05)
    options.update(overrides)
    return PerspectiveScorer(url, **options)


def collect(scorer, texts, lang):
    """Run iter_score to the end: (results by index, the error raised at the end or None)."""
    got, error = {}, None
    try:
        for i, score in scorer.iter_score(texts, lang):
            assert i not in got, "a text was yielded twice"
            got[i] = score
    except ScoringError as err:
        error = err
    return got, error


def assert_correct(scores, texts):
    for score, text in zip(scores, texts):
        sent = text or " "
        assert score.toxicity == pytest.approx(expected_score(sent, "TOXICITY"), abs=1e-12)
        assert set(score.attributes) == set(REFERENCE_ATTRIBUTES)
        for attr, value in score.attributes.items():
            assert value == pytest.approx(expected_score(sent, attr), abs=1e-12)


TEXTS = [f"continuation number {i}" for i in range(24)]


def test_every_text_scored_exactly_once_with_the_reference_request(server):
    texts = TEXTS + [""]
    scores = fast_client(server.url).score(texts, "zh-hans")
    assert_correct(scores, texts)
    sent = server.texts()
    assert sorted(sent) == sorted(TEXTS + [" "])  # each once; the empty continuation goes out as " "
    for request in server.received:
        assert request.languages == ["zh"]  # zh-hans is sent as zh, as the reference does
        assert request.attributes == list(REFERENCE_ATTRIBUTES)
        assert request.key == KEY


@pytest.mark.parametrize("fault", ["429", "500", "503", "malformed", "drop"])
def test_each_transient_fault_is_retried_until_scored(server, fault):
    texts = TEXTS[:8]
    server.inject(fault, count=2, per_text=True)  # every text fails twice, then succeeds
    scorer = fast_client(server.url)
    scores = scorer.score(texts, "de")
    assert_correct(scores, texts)
    sent = server.texts()
    assert all(sent.count(t) == 3 for t in texts), sent
    assert scorer.stats["http_requests"] == 24 and scorer.stats["retries"] == 16


def test_a_burst_of_429_is_absorbed(server):
    server.inject("429", count=15)  # the next 15 requests, whatever their text
    scorer = fast_client(server.url, max_retries=10)
    assert_correct(scorer.score(TEXTS[:10], "en"), TEXTS[:10])
    assert scorer.stats["http_requests"] == 25


def test_slow_responses_time_out_and_are_retried(server):
    server.slow_delay = 1.5
    slow = TEXTS[:2]
    server.inject("slow", count=1, per_text=True, texts=slow)
    scorer = fast_client(server.url, timeout=0.3)
    texts = TEXTS[:5]
    assert_correct(scorer.score(texts, "fr"), texts)
    sent = server.texts()
    assert [sent.count(t) for t in texts] == [2, 2, 1, 1, 1]


def test_retries_are_bounded_and_the_failed_text_is_named(server):
    server.inject("503", texts={"doomed text"})  # always
    texts = TEXTS[:6] + ["doomed text"]
    got, error = collect(fast_client(server.url, max_retries=3), texts, "ja")
    assert isinstance(error, TextNotScoredError)
    assert "'doomed text'" in str(error) and "'ja'" in str(error) and "HTTP 503" in str(error)
    assert server.texts().count("doomed text") == 4  # 1 + max_retries
    assert sorted(got) == list(range(6))  # the others were all delivered before the error
    assert_correct([got[i] for i in range(6)], texts[:6])


def test_a_dead_service_stops_the_call_instead_of_retrying_everything(server):
    server.inject("500")  # every request, forever
    scorer = fast_client(server.url, concurrency=1, max_retries=1, abort_after=3)
    with pytest.raises(PerspectiveError, match="3 texts in a row") as info:
        scorer.score(TEXTS, "en")
    assert server.count() == 6  # 3 texts × 2 attempts, then stop
    assert "21 not attempted" in str(info.value)


def test_missing_key_is_a_clear_error_and_nothing_is_sent(server, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(MissingKeyError, match=KEY_ENV):
        fast_client(server.url).score(["hello"], "en")
    assert server.count() == 0


def test_rejected_key_is_not_retried(server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "wrong-key-XYZ")
    with pytest.raises(RejectedKeyError, match="rejected the key") as info:
        fast_client(server.url, concurrency=1).score(TEXTS, "en")
    assert server.count() == 1
    assert "wrong-key-XYZ" not in str(info.value)


def test_unsupported_language_is_a_clear_error_naming_language_and_text(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with PerspectiveServer(key=KEY, supported_languages={"en"}) as srv:
        with pytest.raises(LanguageNotSupportedError) as info:
            fast_client(srv.url, concurrency=1).score(TEXTS[:5], "hi")
        assert srv.count() == 1  # not retried, and the rest not attempted
    message = str(info.value)
    assert "'hi'" in message and TEXTS[0] in message and "scoring.perspective.attributes" in message


def test_the_key_never_appears_in_logs_repr_or_exceptions(server, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3 logs each request line, query string included, at DEBUG
    server.inject("drop", count=1, per_text=True)
    server.inject("503", count=1, per_text=True)
    server.inject("malformed", texts={"always broken"})
    scorer = fast_client(server.url, max_retries=3)
    _, error = collect(scorer, TEXTS[:4] + ["always broken"], "en")
    assert error is not None
    everything = "\n".join([
        caplog.text, repr(scorer), str(vars(scorer)), str(error), repr(error),
        "".join(traceback.format_exception(error)),
        # a traceback printed with each frame's locals (pytest --showlocals, error trackers)
        "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format()),
    ])
    assert KEY not in everything
    assert "<redacted>" in caplog.text  # the urllib3 request lines were there, and blanked
    assert "always broken" in str(error)


def test_throughput_follows_the_configured_rate(server):
    rate = 20.0
    scorer = fast_client(server.url, rate=rate, concurrency=2)
    scorer.score([f"rate probe {i}" for i in range(50)], "en")
    times = sorted(r.time for r in server.received)
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert 0.85 * rate <= achieved <= 1.05 * rate, achieved


def test_token_bucket_spaces_slots_across_threads():
    import threading
    import time

    bucket = TokenBucket(50.0)
    stamps, lock = [], threading.Lock()

    def take():
        for _ in range(10):
            bucket.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert (stamps[-1] - stamps[0]) >= 39 / 50 * 0.95


def test_configuration_errors_are_named():
    with pytest.raises(PerspectiveError, match="must include TOXICITY"):
        PerspectiveScorer("http://127.0.0.1:9/x", attributes=["INSULT"])
    with pytest.raises(PerspectiveError, match="query string"):
        PerspectiveScorer("http://127.0.0.1:9/x?key=abc")
