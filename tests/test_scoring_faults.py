"""The Perspective client against endpoints that cannot work: permanent errors are told from transient ones and stop
a job in seconds (circuit breaker), every request is bounded by a wall-clock deadline, scores are parsed strictly,
nothing a server echoes leaks the key, and the abort summary counts texts in flight. Request counts are the server's."""

from __future__ import annotations

import socket
import time

import pytest

from perspective_server import PerspectiveServer, closed_port_url, expected_score
from xdetox.scoring.base import ScoringError
from xdetox.scoring.perspective import (
    ENDPOINT_KEY,
    KEY_ENV,
    EndpointConfigError,
    MalformedScoreError,
    PerspectiveError,
    PerspectiveScorer,
    PermanentFailureError,
    TextNotScoredError,
    parse_scores,
    redact,
)
from xdetox.scoring.registry import make_scorer

pytestmark = pytest.mark.timeout(60)

KEY = "sk-faults-Zq9xV4r7"
TEXTS = [f"fault text {i}" for i in range(12)]


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with PerspectiveServer(key=KEY, trickle_interval=0.05, trickle_max=10) as srv:
        yield srv


def client(endpoint: str, **overrides) -> PerspectiveScorer:
    options = dict(rate=500.0, concurrency=1, max_retries=4, timeout=2.0, backoff_base=0.005, backoff_max=0.05)
    options.update(overrides)
    return PerspectiveScorer(endpoint, **options)


def run(scorer, texts, lang="en"):
    got, error = {}, None
    try:
        for i, score in scorer.iter_score(texts, lang):
            got[i] = score
    except ScoringError as err:
        error = err
    return got, error


# ---------------------------------------------------------------------------------------------- permanent errors


@pytest.mark.parametrize("status, hint", [
    ("403", KEY_ENV),
    ("404", "/v1alpha1/comments:analyze"),
    ("400", "scoring.perspective.attributes"),
])
def test_a_4xx_is_confirmed_once_then_the_breaker_stops_the_job(server, status, hint):
    server.inject(status)
    scorer = client(server.url, breaker_failures=3)
    got, error = run(scorer, TEXTS)
    assert isinstance(error, PermanentFailureError), error
    assert server.count() == 3 * 2  # three texts, each tried once and confirmed once; nothing after the breaker
    message = str(error)
    assert f"HTTP {status}" in message and hint in message and "To fix:" in message
    assert "[0 scored, 3 failed, 0 interrupted in flight, 9 not attempted]" in message
    assert not got


def test_a_refused_endpoint_stops_the_job_in_well_under_a_second(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    url = closed_port_url()
    scorer = client(url, breaker_failures=3)
    started = time.monotonic()
    _, error = run(scorer, TEXTS)
    elapsed = time.monotonic() - started
    assert isinstance(error, PermanentFailureError)
    assert "connection refused" in str(error) and ENDPOINT_KEY in str(error)
    assert scorer.stats["http_requests"] == 6  # nothing listens, so this count is the client's: 3 texts × 2
    assert elapsed < 3.0, elapsed  # ~0.05 s here; the old client took minutes


def test_a_name_that_does_not_resolve_is_permanent(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    real = socket.getaddrinfo
    asked = []

    def no_such_host(host, *args, **kwargs):
        if host == "perspective.invalid":
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    scorer = client("https://perspective.invalid/v1alpha1/comments:analyze", breaker_failures=2)
    _, error = run(scorer, TEXTS)
    assert isinstance(error, PermanentFailureError)
    assert "'perspective.invalid' does not resolve" in str(error) and "internet access" in str(error)
    assert len(asked) == 4


def test_one_permanent_looking_answer_is_not_final(server):
    server.inject("403", count=1)  # a blip: the confirmation attempt succeeds
    scores = client(server.url).score(TEXTS[:4], "en")
    assert [s.toxicity for s in scores] == [expected_score(t) for t in TEXTS[:4]]
    assert server.count() == 5


def test_permanent_failures_separated_by_successes_do_not_trip_the_breaker(server):
    doomed = set(TEXTS[0:8:2])  # every other text
    server.inject("404", texts=doomed)
    got, error = run(client(server.url, breaker_failures=2, abort_after=100), TEXTS[:8])
    assert type(error) is TextNotScoredError
    assert "could not score 4 of 8" in str(error)
    assert sorted(got) == [1, 3, 5, 7]
    sent = server.texts()
    assert all(sent.count(t) == 2 for t in doomed) and all(sent.count(t) == 1 for t in set(TEXTS[:8]) - doomed)


def test_the_breaker_window_forgets_old_failures(server):
    server.inject("404")
    # each text takes about 2 × backoff; a window shorter than that never holds two failures
    scorer = client(server.url, breaker_failures=2, breaker_window=0.02, backoff_base=0.05, abort_after=4)
    _, error = run(scorer, TEXTS)
    assert type(error) is PerspectiveError and "4 texts in a row" in str(error)
    assert server.count() == 8


def test_transient_errors_are_still_retried_to_the_limit(server):
    server.inject("503", texts={TEXTS[0]})
    server.inject("429", count=3, per_text=True, texts={TEXTS[1]})
    got, error = run(client(server.url, max_retries=3), TEXTS[:3])
    assert isinstance(error, TextNotScoredError) and not isinstance(error, PermanentFailureError)
    sent = server.texts()
    assert sent.count(TEXTS[0]) == 4 and sent.count(TEXTS[1]) == 4 and sent.count(TEXTS[2]) == 1
    assert sorted(got) == [1, 2]


# ---------------------------------------------------------------------------------------------- endpoint config


@pytest.mark.parametrize("endpoint, says", [
    ("ftp://example.org/v1alpha1/comments:analyze", "is not http or https"),
    ("htps://example.org/x", "is not http or https"),
    ("commentanalyzer.googleapis.com/v1alpha1/comments:analyze", "is not http or https"),
    ("http:///v1alpha1/comments:analyze", "names no host"),
    ("http://example.org:99999/x", "not a valid URL"),
    ("http://example.org:0/x", "port 0"),
    ("http://[::1/x", "not a valid URL"),
    ("https://example.org/x?key=AIzaSECRET", "query string"),
    ("https://example.org/x?", "query string"),
    ("https://example.org/x#frag", "fragment"),
    ("https://user:AIzaSECRET@example.org/x", "credentials"),
    ("https://example.org/a b", "whitespace"),
    ("", "must be an http(s) URL"),
    (None, "must be an http(s) URL"),
])
def test_an_unusable_endpoint_is_a_named_config_error(endpoint, says):
    with pytest.raises(EndpointConfigError) as info:
        PerspectiveScorer(endpoint)
    message = str(info.value)
    assert message.startswith(f"config key {ENDPOINT_KEY}:") and says in message
    assert "AIzaSECRET" not in message


def test_the_registry_reads_the_endpoint(server):
    assert make_scorer("perspective", {"endpoint": server.url}).endpoint == server.url
    with pytest.raises(EndpointConfigError, match=ENDPOINT_KEY):
        make_scorer("perspective", {"endpoint": "ftp://x/y"})


@pytest.mark.parametrize("attributes, says", [
    ([], "is empty"),
    (["INSULT"], "must include TOXICITY"),
    ("TOXICITY", "must be a list"),
    (["TOXICITY", "TOXICITY"], "twice"),
    (["TOXICITY", ""], "not an attribute name"),
])
def test_unusable_attributes_are_named(attributes, says):
    with pytest.raises(EndpointConfigError, match=r"scoring\.perspective\.attributes") as info:
        PerspectiveScorer("http://127.0.0.1:9/x", attributes=attributes)
    assert says in str(info.value)


@pytest.mark.parametrize("name, value", [("rate", float("nan")), ("rate", float("inf")), ("timeout", 0),
                                         ("concurrency", 1.5), ("max_retries", -1), ("backoff_base", True)])
def test_non_finite_or_impossible_numbers_are_named(name, value):
    with pytest.raises(PerspectiveError, match=rf"scoring\.perspective\.{name}"):
        PerspectiveScorer("http://127.0.0.1:9/x", **{name: value})


# ---------------------------------------------------------------------------------------------- deadline


@pytest.mark.parametrize("fault", ["trickle", "trickle_headers"])
def test_a_trickling_server_cannot_hold_a_request_past_the_deadline(server, fault):
    # the answer trickles a byte every 50 ms: ~35 s for the body; each read stays far inside any per-read timeout
    server.inject(fault, texts={"slow one"})
    scorer = client(server.url, timeout=0.5, max_retries=1)
    started = time.monotonic()
    _, error = run(scorer, ["slow one"])
    elapsed = time.monotonic() - started
    assert isinstance(error, TextNotScoredError) and "deadline" in str(error)
    assert server.count() == 2
    assert elapsed < 3.0, elapsed  # two attempts of 0.5 s (unbounded, the trickle lasts ~35 s per attempt)


def test_after_a_trickled_attempt_the_retry_scores_the_text(server):
    server.inject("trickle", count=1, per_text=True)
    scores = client(server.url, timeout=0.4).score(TEXTS[:3], "en")
    assert [s.toxicity for s in scores] == [expected_score(t) for t in TEXTS[:3]]
    assert server.count() == 6 and server.ok_sent == 3


# ---------------------------------------------------------------------------------------------- strict parsing


@pytest.mark.parametrize("fault", ["bool", "string", "null", "nan", "out_of_range", "echo_key"])
def test_a_score_that_is_not_a_number_in_0_1_is_retried_never_kept(server, fault):
    server.inject(fault, count=1, per_text=True)
    scorer = client(server.url)
    scores = scorer.score(TEXTS[:3], "en")
    assert [s.toxicity for s in scores] == [expected_score(t) for t in TEXTS[:3]]
    assert server.count() == 6  # each text: the bad answer, then a good one


def test_a_text_whose_score_is_always_false_fails_with_a_named_reason(server):
    server.inject("bool", texts={"always false"})
    got, error = run(client(server.url, max_retries=2), ["fine", "always false"])
    assert sorted(got) == [0]
    assert "score for TOXICITY is a JSON boolean (false)" in str(error)
    assert server.texts().count("always false") == 3


@pytest.mark.parametrize("value, says", [
    ("false", "JSON boolean (false)"), ("true", "JSON boolean (true)"), ('"0.25"', "JSON string"),
    ("null", "null"), ("NaN", "not a finite number"), ("Infinity", "not a finite number"), ("1.5", "1.5"),
    ("-0.1", "-0.1"), ("[0.5]", "JSON array"), ('{"v": 1}', "JSON object"),
])
def test_parse_scores_accepts_only_json_numbers_in_0_1(value, says):
    payload = '{"attributeScores": {"TOXICITY": {"summaryScore": {"value": %s}}}}' % value
    with pytest.raises(MalformedScoreError, match="score for TOXICITY is") as info:
        parse_scores(payload, ["TOXICITY"])
    assert says in str(info.value)
    good = '{"attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}, "INSULT": {"summaryScore": {"value": 1}}}}'
    assert parse_scores(good, ["TOXICITY", "INSULT"]) == {"TOXICITY": 0.0, "INSULT": 1.0}
    with pytest.raises(MalformedScoreError, match="no summaryScore.value for INSULT"):
        parse_scores(good.replace('"INSULT"', '"THREAT"'), ["TOXICITY", "INSULT"])


# ---------------------------------------------------------------------------------------------- secrecy


def test_redact_blanks_raw_and_url_encoded_keys_before_any_cut():
    key = "ab/c+d=e"
    text = f"x {key} y ab%2Fc%2Bd%3De z ab%2Fc%2Bd%3De"
    assert redact(text, key) == "x <redacted> y <redacted> z <redacted>"


def test_a_server_echoing_the_key_in_scores_and_errors_leaks_nothing(monkeypatch):
    key = "sk-echo/Canary+42"
    monkeypatch.setenv(KEY_ENV, key)
    with PerspectiveServer(key=key, echo_key=True) as srv:
        srv.inject("echo_key", texts={"echo"})
        srv.inject("500", texts={"five hundred"})
        srv.inject("400", texts={"four hundred"})
        _, error = run(client(srv.url, max_retries=1, abort_after=10, breaker_failures=10),
                       ["echo", "five hundred", "four hundred", "fine"])
    message = str(error)
    assert "'echo'" in message and "'five hundred'" in message and "'four hundred'" in message
    assert "<redacted>" in message  # the servers' error messages were quoted, key blanked
    for form in (key, "sk-echo%2FCanary%2B42", "sk-echo/Canary", "Canary+42"):
        assert form not in message


# ---------------------------------------------------------------------------------------------- abort summary


def test_the_abort_summary_counts_texts_in_flight_apart_from_those_never_sent(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with PerspectiveServer(key=KEY, slow_delay=3.0) as srv:
        texts = [f"t{i}" for i in range(10)]
        srv.inject("403", texts={"t0"})
        srv.inject("slow", texts={"t1", "t2", "t3"})  # still waiting for an answer when t0 trips the breaker
        scorer = client(srv.url, concurrency=4, timeout=1.0, breaker_failures=1)
        _, error = run(scorer, texts)
        assert isinstance(error, PermanentFailureError)
        assert "[0 scored, 1 failed, 3 interrupted in flight, 6 not attempted]" in str(error)
        assert sorted(srv.texts()) == ["t0", "t0", "t1", "t2", "t3"]


def test_a_bad_score_is_never_cached(tmp_path, server):
    from xdetox.scoring.cache import CachedScorer, ScoreCache

    server.inject("bool", texts={"always false"})
    server.inject("string", texts={"always a string"})
    scorer = CachedScorer(client(server.url, max_retries=1), ScoreCache(tmp_path / "c.sqlite"))
    with pytest.raises(TextNotScoredError):
        scorer.score(["fine", "always false", "always a string"], "en")
    assert scorer.cache.get(scorer.key("fine", "en")) is not None
    assert scorer.cache.get(scorer.key("always false", "en")) is None
    assert scorer.cache.get(scorer.key("always a string", "en")) is None
    assert len(scorer.cache) == 1
