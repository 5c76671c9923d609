"""A client for the Perspective API (commentanalyzer v1alpha1) that survives quotas, outages and crashes, and stops
within seconds when retrying cannot help.

It speaks only the documented REST API — POST {endpoint}?key=KEY with
``{"comment": {"text": …}, "languages": [code], "requestedAttributes": {ATTR: {}, …}}`` — and returns
``attributeScores[ATTR].summaryScore.value`` per attribute; storing results is the cache's job (cache.CachedScorer),
which receives each score the moment it arrives through `iter_score`. `endpoint` may name any server that speaks this
API (a self-hosted stand-in), over http or https.

What the reference does and we keep (xg/eval/perspective_api_eval.py): the six attributes below, TOXICITY drives the metrics, zh-hans
is sent as zh, an empty continuation is sent as " ", at most 10 retries. What we do instead of its fixed 2 s sleep per
100 texts: a token bucket at the configured rate (your quota), a thread pool when concurrency > 1, and per-text
exponential backoff with jitter.

How a failed attempt is handled:

- transient (429, 5xx, 408, timeouts, dropped/reset connections, malformed JSON or a score that is not a number in
  [0, 1]): retried with backoff, at most `max_retries` times per text;
- permanent (connection refused, host name does not resolve, network unreachable, TLS failure, any other 4xx):
  retried once to confirm (a restarting server or a DNS blip gets a second chance), then the text fails; after
  `breaker_failures` texts in a row fail this way within `breaker_window` seconds the circuit breaker stops the whole
  job with a message that says what to fix, instead of burning ~4 minutes of backoff per text;
- fatal at once: the server says the key is invalid (API_KEY_INVALID) or the language is not supported, or the
  endpoint is not a URL requests can use.

Every request runs under a wall-clock deadline of `timeout` seconds that covers connecting, the headers and the whole
body: a watchdog shuts the socket down when it passes, so a server that trickles its answer cannot hold a worker.

The API key comes from the environment variable PERSPECTIVE_API_KEY only; it is never an attribute, never logged,
never part of an exception: requests/urllib3 messages carry the full URL, so they are never passed on verbatim, and
every message built from a response is redacted before it is cut to length (a server may echo the key anywhere).
"""

from __future__ import annotations

import collections
import errno
import json
import logging
import math
import os
import random
import socket
import threading
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Iterator, Sequence
from urllib.parse import quote, quote_plus, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..languages import PERSPECTIVE_CODE
from .base import Score, Scorer, ScoringError

log = logging.getLogger("xdetox.scoring")

KEY_ENV = "PERSPECTIVE_API_KEY"
DEFAULT_ENDPOINT = "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze"
DEFAULT_URL = DEFAULT_ENDPOINT  # the name used before `endpoint`
ENDPOINT_KEY = "scoring.perspective.endpoint"
ATTRIBUTES_KEY = "scoring.perspective.attributes"
#: requested by the reference (SEXUALLY_EXPLICIT is left out there: not supported for non-English languages)
REFERENCE_ATTRIBUTES = ("TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT")
METRIC_ATTRIBUTE = "TOXICITY"
REDACTED = "<redacted>"


class PerspectiveError(ScoringError):
    """The Perspective API did not give a score."""


class MissingKeyError(PerspectiveError):
    pass


class RejectedKeyError(PerspectiveError):
    pass


class LanguageNotSupportedError(PerspectiveError):
    pass


class EndpointConfigError(PerspectiveError):
    """scoring.perspective.endpoint or .attributes cannot work, whatever the server does."""


class TextNotScoredError(PerspectiveError):
    """One text failed for good (retries exhausted, or the API refused that text)."""


class PermanentTextError(TextNotScoredError):
    """One text failed twice in a row with an error that retrying cannot fix (refused, DNS, 4xx, …)."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


class PermanentFailureError(PerspectiveError):
    """The circuit breaker tripped: several texts in a row failed permanently; the job stops."""


class MalformedScoreError(PerspectiveError):
    """A 200 answer whose scores are not JSON numbers in [0, 1] (bool, string, null, NaN, missing, out of range)."""


class _Stopped(Exception):
    """The call was aborted (fatal error elsewhere, or the consumer went away) before this text was sent."""


def _preview(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def redact(text: str, secret: str | None) -> str:
    """`text` with every spelling of `secret` a server could echo (raw or URL-encoded) blanked.

    Call it before cutting a message to length: a cut through the middle of the key would leave a prefix no later
    replace can find.
    """
    if secret:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    return text


# ---------------------------------------------------------------------------------------------- configuration


def validate_endpoint(endpoint: object) -> str:
    """The endpoint if it is an http(s) URL with a host and no query, fragment or credentials; else a named error."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise EndpointConfigError(f"config key {ENDPOINT_KEY}: must be an http(s) URL, got {endpoint!r}")
    if endpoint != endpoint.strip() or any(ch.isspace() or ord(ch) < 32 for ch in endpoint):
        raise EndpointConfigError(f"config key {ENDPOINT_KEY}: {endpoint.strip()!r} contains whitespace or control "
                                  "characters")
    try:
        parts = urlsplit(endpoint)
        port = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError as err:
        raise EndpointConfigError(f"config key {ENDPOINT_KEY}: not a valid URL ({err})") from None
    # Never echo the query, fragment or user info: that is where a key would be.
    shown = f"{parts.scheme}://{parts.hostname or ''}{f':{port}' if port else ''}{parts.path}"
    if parts.scheme not in ("http", "https"):
        raise EndpointConfigError(f"config key {ENDPOINT_KEY}: scheme {parts.scheme!r} in {shown!r} is not http or "
                                  "https (write e.g. https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze)")
    if not parts.hostname:
        raise EndpointConfigError(f"config key {ENDPOINT_KEY}: {endpoint!r} names no host")
    if port == 0:
        raise EndpointConfigError(f"config key {ENDPOINT_KEY}: port 0 in {shown!r} is not a port a server listens on")
    if parts.username is not None or parts.password is not None:
        raise EndpointConfigError(f"config key {ENDPOINT_KEY}: {shown!r} must not carry user:password@ credentials")
    if parts.query or "?" in endpoint:
        raise EndpointConfigError(f"config key {ENDPOINT_KEY}: {shown!r} must not carry a query string; the API key "
                                  f"is read from ${KEY_ENV} and added by the client")
    if parts.fragment or "#" in endpoint:
        raise EndpointConfigError(f"config key {ENDPOINT_KEY}: {shown!r} must not carry a #fragment")
    return endpoint


def validate_attributes(attributes: object) -> tuple[str, ...]:
    if isinstance(attributes, str) or not isinstance(attributes, (list, tuple)):
        raise EndpointConfigError(f"config key {ATTRIBUTES_KEY}: must be a list of attribute names, got "
                                  f"{attributes!r}")
    attributes = tuple(attributes)
    if not attributes:
        raise EndpointConfigError(f"config key {ATTRIBUTES_KEY}: is empty; it must include {METRIC_ATTRIBUTE} (it "
                                  "drives the metrics)")
    bad = [a for a in attributes if not isinstance(a, str) or not a.strip()]
    if bad:
        raise EndpointConfigError(f"config key {ATTRIBUTES_KEY}: {bad[0]!r} is not an attribute name")
    if len(set(attributes)) != len(attributes):
        raise EndpointConfigError(f"config key {ATTRIBUTES_KEY}: lists an attribute twice: {list(attributes)}")
    if METRIC_ATTRIBUTE not in attributes:
        raise EndpointConfigError(f"config key {ATTRIBUTES_KEY}: must include {METRIC_ATTRIBUTE} (it drives the "
                                  f"metrics); got {list(attributes)}")
    return attributes


# ---------------------------------------------------------------------------------------------- strict parsing


def _describe_value(value: object) -> str:
    """What a score value is, without echoing anything a server could have put in it except a number."""
    if isinstance(value, bool):
        return f"a JSON boolean ({str(value).lower()})"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"a JSON string of {len(value)} character(s)"
    if isinstance(value, (int, float)):
        return repr(value) if math.isfinite(value) else f"{value!r} (not a finite number)"
    return f"a JSON {'object' if isinstance(value, dict) else 'array' if isinstance(value, list) else 'value'}"


def parse_scores(payload: str, attributes: Sequence[str]) -> dict[str, float]:
    """attributeScores[A].summaryScore.value for each requested A, each a JSON number in [0, 1].

    Raises MalformedScoreError otherwise: a bool is not 0/1, a string is not parsed, null/NaN/Infinity are not
    numbers, so no made-up number is ever stored.
    """
    try:
        data = json.loads(payload)
    except ValueError as err:
        raise MalformedScoreError(f"malformed response (not JSON: {getattr(err, 'msg', 'invalid')})") from None
    scores = data.get("attributeScores") if isinstance(data, dict) else None
    if not isinstance(scores, dict):
        raise MalformedScoreError("malformed response (no attributeScores object)")
    values: dict[str, float] = {}
    for attr in attributes:
        entry = scores.get(attr)
        summary = entry.get("summaryScore") if isinstance(entry, dict) else None
        if not isinstance(summary, dict) or "value" not in summary:
            raise MalformedScoreError(f"malformed response (no summaryScore.value for {attr})")
        value = summary["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0.0 <= value <= 1.0:
            raise MalformedScoreError(f"malformed response (score for {attr} is {_describe_value(value)}, not a "
                                      "number in [0, 1])")
        values[attr] = float(value)
    return values


# ---------------------------------------------------------------------------------------------- deadline


class _Deadline:
    """A wall-clock limit on one request: when it passes, the socket in use is shut down, which ends any blocked
    connect/send/recv at once. Per-socket-operation timeouts cannot do this: a server that sends one byte before each
    read timeout keeps them all satisfied forever."""

    _current = threading.local()

    def __init__(self, seconds: float):
        self._lock = threading.Lock()
        self._conn = None
        self._done = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        _Deadline._current.value = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()
        _Deadline._current.value = None

    @classmethod
    def attach_current(cls, conn) -> None:
        deadline = getattr(cls._current, "value", None)
        if deadline is not None:
            deadline._attach(conn)

    def _attach(self, conn) -> None:
        with self._lock:
            self._conn = conn
            if self.fired:
                _shut(conn)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            if self._conn is not None:
                _shut(self._conn)


def _shut(conn) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            # the plain socket's shutdown, also for an SSLSocket: it only ends the blocked I/O; urllib3 closes it
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


class _DeadlineMixin:
    """Lets the deadline of the request in flight on this thread reach the connection's socket."""

    def connect(self) -> None:
        _Deadline.attach_current(self)  # self.sock exists from the TCP connect on, so the TLS handshake is covered
        super().connect()
        _Deadline.attach_current(self)  # the deadline may have passed while the socket did not exist yet

    def request(self, *args, **kwargs):  # a kept-alive connection is reused without connect()
        _Deadline.attach_current(self)
        return super().request(*args, **kwargs)


class _DeadlineHTTPConnection(_DeadlineMixin, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineMixin, HTTPSConnection):
    pass


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_DEADLINE_POOLS = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter with connections the deadline watchdog can reach (direct and through an HTTP proxy; a SOCKS
    proxy keeps its own pools, and then only the per-read timeout and the body deadline apply)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _DEADLINE_POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:
            manager.pool_classes_by_scheme = _DEADLINE_POOLS
        return manager


# ---------------------------------------------------------------------------------------------- client


@dataclass
class _Failure:
    """One failed attempt: transient (retry with backoff) or permanent (confirm once, then give up)."""

    reason: str
    permanent: bool = False
    hint: str = ""
    retry_after: float | None = None


class _Call:
    """State shared by the workers of one iter_score call."""

    def __init__(self, stop: threading.Event, lang: str):
        self.stop = stop
        self.lang = lang
        self.lock = threading.Lock()
        self.failed_in_a_row = 0
        self.fatal: PerspectiveError | None = None
        self.sent: set[int] = set()  # texts of which at least one request went out
        self.fatal_texts = 0  # texts whose own answer was the fatal error


class TokenBucket:
    """Hands out request slots at `rate` per second to any number of threads (bucket of one: no bursts).

    Each caller reserves the next free slot under a lock and then sleeps outside it until its slot comes, so
    threads queue fairly and the long-run rate is exactly `rate`, however many threads wait.
    """

    def __init__(self, rate: float):
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError("rate must be a positive finite number")
        self.interval = 1.0 / rate
        self._next_slot = 0.0
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a slot; False if `stop` was set while waiting."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            if stop is not None:
                return not stop.wait(delay)
            time.sleep(delay)
        return not (stop is not None and stop.is_set())


class _ApiKey:
    """The key, wrapped so that a traceback printed with its locals (pytest --showlocals, error trackers) hides it."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__


class _RedactKey(logging.Filter):
    """urllib3 logs URLs with the query string (…?key=…): request lines at DEBUG, header-parsing failures at WARNING
    with a traceback that quotes what the server sent. Blank the key in the message and the traceback before any
    handler sees them."""

    def __init__(self, key: str):
        super().__init__()
        self._key = key

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self._key)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info:
            # formatted once here, redacted; Formatter prints exc_text when exc_info is gone
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, redact(text, self._key)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self._key)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._key)
        return True

    def __repr__(self) -> str:
        return f"_RedactKey({REDACTED})"


def _number(name: str, value, *, integer: bool = False, zero_ok: bool = False):
    """A setting as a finite number > 0 (>= 0 with zero_ok); NaN, infinity, bools and strings are named errors."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) \
        and (value > 0 or (zero_ok and value == 0)) and (not integer or value == int(value))
    if not ok:
        kind = "integer" if integer else "finite number"
        sign = "non-negative" if zero_ok else "positive"
        raise PerspectiveError(f"config key scoring.perspective.{name}: must be a {sign} {kind}, got {value!r}")
    return int(value) if integer else float(value)


class PerspectiveScorer(Scorer):
    """Perspective API scorer. Thread pool of `concurrency` workers sharing one token bucket at `rate` requests/s.

    `max_retries` bounds the retries per text (so at most max_retries + 1 requests per text); `timeout` is the
    wall-clock deadline of every request (connect, headers and the whole body). After `abort_after` texts in a row
    fail for good the call stops (the service is down: retrying the rest would only burn quota and time); after
    `breaker_failures` texts in a row fail *permanently* within `breaker_window` seconds the circuit breaker stops it
    with what to fix. The cache keeps what was done.
    """

    id = "perspective"
    streams_results = True

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        rate: float = 1.0,
        concurrency: int = 1,
        max_retries: int = 10,
        timeout: float = 30.0,
        attributes: Sequence[str] = REFERENCE_ATTRIBUTES,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        abort_after: int = 5,
        breaker_failures: int = 3,
        breaker_window: float = 300.0,
    ):
        self._attributes = validate_attributes(attributes)
        self.endpoint = validate_endpoint(endpoint)
        self.rate = _number("rate", rate)
        self.concurrency = _number("concurrency", concurrency, integer=True)
        self.max_retries = _number("max_retries", max_retries, integer=True, zero_ok=True)
        self.timeout = _number("timeout", timeout)
        self.backoff_base = _number("backoff_base", backoff_base)
        self.backoff_max = _number("backoff_max", backoff_max)
        self.abort_after = _number("abort_after", abort_after, integer=True)
        self.breaker_failures = _number("breaker_failures", breaker_failures, integer=True)
        self.breaker_window = _number("breaker_window", breaker_window)
        parts = urlsplit(self.endpoint)
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._bucket = TokenBucket(self.rate)
        self._sessions = threading.local()
        self._open_sessions: list = []
        self._stats_lock = threading.Lock()
        self._permanent_times: collections.deque[float] = collections.deque()
        #: cumulative over calls: HTTP requests sent (retries included), texts scored and texts that failed for good
        self.stats = {"http_requests": 0, "retries": 0, "scored": 0, "failed": 0}

    @property
    def url(self) -> str:  # the name used before `endpoint`
        return self.endpoint

    def __repr__(self) -> str:
        return (f"PerspectiveScorer(endpoint={self.endpoint!r}, rate={self.rate}, concurrency={self.concurrency}, "
                f"max_retries={self.max_retries}, timeout={self.timeout}, attributes={list(self._attributes)})")

    @property
    def version(self) -> str:
        # The API exposes no model version; the endpoint is the most specific identity we have (and it keeps a test
        # server's scores apart from the real service's).
        return f"perspective:{self.endpoint}"

    @property
    def attributes(self) -> tuple[str, ...]:
        return self._attributes

    # ------------------------------------------------------------------ public API

    def score(self, texts: Sequence[str], lang: str) -> list[Score]:
        results: list[Score | None] = [None] * len(texts)
        for i, s in self.iter_score(texts, lang):
            results[i] = s
        return results  # type: ignore[return-value]  # iter_score raises unless every text was scored

    def iter_score(self, texts: Sequence[str], lang: str) -> Iterator[tuple[int, Score]]:
        """Yield (index, score) as each response arrives; after the last, raise one error naming every failed text."""
        if not texts:
            return
        key = _ApiKey(os.environ.get(KEY_ENV, "").strip())
        if not key.value:
            raise MissingKeyError(
                f"Perspective API key missing: set the environment variable {KEY_ENV} "
                f"(needed to score {len(texts)} text(s) in language {lang!r})"
            )
        code = PERSPECTIVE_CODE.get(lang, lang)
        stop = threading.Event()
        redact_filter = _RedactKey(key.value)
        # a logger's filters see only its own records, not its children's: every urllib3 module logger gets one
        urllib3_logs = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
                        if name == "urllib3" or name.startswith("urllib3.")]
        for logger in urllib3_logs:
            logger.addFilter(redact_filter)
        call = _Call(stop, lang)
        failures: list[TextNotScoredError] = []
        yielded = 0
        started, before = time.monotonic(), dict(self.stats)
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="perspective")
        try:
            futures = {pool.submit(self._work, call, key, text, i, code): i for i, text in enumerate(texts)}
            for future in as_completed(futures):
                try:
                    score = future.result()
                except (CancelledError, _Stopped):
                    continue
                except TextNotScoredError as err:
                    failures.append(err)
                    self._count(failed=1)
                    continue
                except PerspectiveError:  # fatal: recorded in call.fatal by the worker, raised below
                    continue
                self._count(scored=1)
                yielded += 1
                yield futures[future], score
        finally:
            stop.set()  # also reached when the consumer closes the generator early
            pool.shutdown(wait=True, cancel_futures=True)
            for logger in urllib3_logs:
                logger.removeFilter(redact_filter)
            self._close_sessions()
            self._report_throughput(self.stats["http_requests"] - before["http_requests"],
                                    self.stats["retries"] - before["retries"], time.monotonic() - started, lang)
        if call.fatal is not None:
            failed = len(failures) + call.fatal_texts
            # texts with a request out but neither an answer nor a final error when the call stopped: not "not
            # attempted" (they may have cost quota), not failed either (a rerun asks for them again)
            interrupted = max(0, len(call.sent) - yielded - failed)
            left = len(texts) - len(call.sent)
            raise type(call.fatal)(f"{call.fatal} [{yielded} scored, {failed} failed, {interrupted} interrupted in "
                                   f"flight, {left} not attempted]") from None
        if failures:
            shown = "; ".join(str(e) for e in failures[:5])
            more = f"; … and {len(failures) - 5} more" if len(failures) > 5 else ""
            raise TextNotScoredError(
                f"Perspective API could not score {len(failures)} of {len(texts)} text(s) in language {lang!r}: "
                f"{shown}{more}"
            ) from None

    def close(self) -> None:
        self._close_sessions()

    def _report_throughput(self, requests: int, retries: int, seconds: float, lang: str) -> None:
        achieved = requests / seconds if seconds > 0 else 0.0
        log.info("perspective: lang %s: %d requests in %.1f s (%.2f/s; configured %.2f/s, %d worker(s))", lang,
                 requests, seconds, achieved, self.rate, self.concurrency)
        if requests >= 20 and retries == 0 and achieved < 0.8 * self.rate:
            # one worker can send at most 1/latency requests per second; the bucket cannot make up for that
            log.warning("perspective: achieved %.2f requests/s of the configured %.2f: answers take longer than "
                        "concurrency/rate = %.2f s; raise scoring.perspective.concurrency to use your quota", achieved,
                        self.rate, self.concurrency / self.rate)

    # ------------------------------------------------------------------ one text

    def _session(self):
        session = getattr(self._sessions, "session", None)
        if session is None:  # requests.Session is not thread-safe: one per worker thread
            session = self._sessions.session = requests.Session()
            adapter = _DeadlineAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            with self._stats_lock:
                self._open_sessions.append(session)
        return session

    def _drop_session(self) -> None:
        """Forget this thread's session (its socket was shut down by the deadline: do not reuse it)."""
        session = getattr(self._sessions, "session", None)
        if session is not None:
            self._sessions.session = None
            session.close()

    def _close_sessions(self) -> None:
        # worker threads end with each call, so their sessions (and sockets) are closed with it
        with self._stats_lock:
            sessions, self._open_sessions = self._open_sessions, []
            self._sessions = threading.local()
        for session in sessions:
            session.close()

    def _count(self, **increments: int) -> None:
        with self._stats_lock:
            for name, n in increments.items():
                self.stats[name] += n

    def _breaker_trips(self) -> bool:
        """Record one permanent text failure; True when `breaker_failures` happened in a row within the window."""
        now = time.monotonic()
        with self._stats_lock:
            self._permanent_times.append(now)
            while self._permanent_times and now - self._permanent_times[0] > self.breaker_window:
                self._permanent_times.popleft()
            if len(self._permanent_times) >= self.breaker_failures:
                self._permanent_times.clear()
                return True
        return False

    def _breaker_reset(self) -> None:
        with self._stats_lock:
            self._permanent_times.clear()

    def _work(self, call: "_Call", key: _ApiKey, text: str, index: int, code: str) -> Score:
        """Score one text; decide here, in the worker, whether the whole call must stop, so no thread sends
        another request after a fatal answer (the consumer thread may learn of it only later)."""
        try:
            score = self._score_one(key, text, index, call, code)
        except TextNotScoredError as err:
            tripped = isinstance(err, PermanentTextError) and self._breaker_trips()
            with call.lock:
                call.failed_in_a_row += 1
                if call.fatal is None and tripped:
                    call.fatal = PermanentFailureError(
                        f"Perspective API at {self.endpoint}: {self.breaker_failures} text(s) in a row failed with an "
                        f"error that retrying cannot fix (each confirmed by a second attempt); stopping the job. "
                        f"Last error: {err}. To fix: {err.hint}"
                    )
                elif call.fatal is None and call.failed_in_a_row >= self.abort_after:
                    call.fatal = PerspectiveError(
                        f"Perspective API: {call.failed_in_a_row} texts in a row (lang {call.lang!r}) could not be "
                        f"scored; giving up on the remaining ones. Last error: {err}"
                    )
                if call.fatal is not None:
                    call.stop.set()
            raise
        except PerspectiveError as err:  # rejected key, unsupported language: every other text would fail too
            with call.lock:
                call.fatal_texts += 1
                if call.fatal is None:
                    call.fatal = err
                call.stop.set()
            raise
        self._breaker_reset()
        with call.lock:
            call.failed_in_a_row = 0
        return score

    def _score_one(self, key: _ApiKey, text: str, index: int, call: _Call, code: str) -> Score:
        body = {
            "comment": {"text": text if text else " "},  # the API rejects empty comments; the reference sends " "
            "languages": [code],
            "requestedAttributes": {attr: {} for attr in self._attributes},
        }
        lang = call.lang
        where = f"text #{index} {_preview(text)} (lang {lang!r})"
        failure = _Failure("no attempt made")
        unconfirmed = False  # the previous attempt failed permanently: this one confirms or clears it
        for attempt in range(self.max_retries + 1):
            if not self._bucket.acquire(call.stop):
                raise _Stopped()
            with call.lock:
                call.sent.add(index)
            self._count(http_requests=1, retries=1 if attempt else 0)
            outcome = self._request(key, body, where, lang, code)
            if isinstance(outcome, Score):
                return outcome
            failure = outcome
            if failure.permanent and (unconfirmed or attempt == self.max_retries):
                raise PermanentTextError(f"{where}: {failure.reason} ({attempt + 1} attempt(s))", failure.hint)
            if attempt == self.max_retries:
                break
            delay = min(self.backoff_max, self.backoff_base * 2**attempt) * random.uniform(0.5, 1.0)
            if failure.retry_after is not None:
                delay = max(delay, min(failure.retry_after, self.backoff_max))
            unconfirmed = failure.permanent
            if unconfirmed:
                log.warning("perspective: %s: %s; looks permanent, one confirmation attempt in %.2f s", where,
                            failure.reason, delay)
            else:
                log.warning("perspective: %s: %s; retry %d/%d in %.2f s", where, failure.reason, attempt + 1,
                            self.max_retries, delay)
            if call.stop.wait(delay):
                raise _Stopped()
        raise TextNotScoredError(f"{where}: {failure.reason} after {self.max_retries + 1} attempt(s)")

    def _request(self, key: _ApiKey, body: dict, where: str, lang: str, code: str) -> Score | _Failure:
        """One HTTP request → a Score or a _Failure; raises a PerspectiveError when no text can succeed."""
        failure: _Failure | None = None
        fatal: PerspectiveError | None = None
        response = payload = None
        with _Deadline(self.timeout) as deadline:
            try:
                response = self._session().post(self.endpoint, params={"key": key.value}, json=body,
                                                timeout=self.timeout, stream=True)
                try:
                    payload = self._read_body(response)
                finally:
                    response.close()
            except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                    requests.exceptions.MissingSchema) as err:
                # requests refused the URL before any network: no retry can change that
                fatal = EndpointConfigError(f"config key {ENDPOINT_KEY}: requests cannot use {self.endpoint!r} "
                                            f"({type(err).__name__})")
            except requests.RequestException as err:
                # str(err) holds the URL with the key: only what _classify builds from types and errnos is passed on
                failure = self._classify(err, deadline.fired)
        if deadline.fired:
            self._drop_session()  # its socket was shut down
            if fatal is None:  # whatever arrived before the deadline (urllib3 may return a cut-off answer) is void
                failure = _Failure(f"no complete answer within the {self.timeout:g} s deadline")
        if fatal is not None:
            raise fatal
        if failure is not None:
            return failure
        status = response.status_code
        if status == 429 or status >= 500 or status == 408:
            return _Failure(f"HTTP {status}{self._error_summary(payload, key.value)}",
                            retry_after=self._retry_after(response))
        if status != 200:
            return self._client_error(status, payload, key.value, where, lang, code)
        try:
            values = parse_scores(payload, self._attributes)
        except MalformedScoreError as err:
            return _Failure(redact(str(err), key.value))
        return Score(toxicity=values[METRIC_ATTRIBUTE], attributes=values)

    def _classify(self, err: requests.RequestException, deadline_passed: bool) -> _Failure:
        """A requests exception → transient or permanent failure, described from types and errnos only."""
        where = f"{self._host}:{self._port}"
        if deadline_passed or isinstance(err, requests.Timeout):
            return _Failure(f"no complete answer within the {self.timeout:g} s deadline")
        if isinstance(err, requests.exceptions.SSLError):
            return _Failure(f"TLS handshake with {where} failed", permanent=True,
                            hint=f"the server's certificate is not trusted or the server does not speak TLS: fix "
                                 f"{ENDPOINT_KEY} (http:// vs https://) or trust its CA (REQUESTS_CA_BUNDLE)")
        reason = err.args[0] if err.args else None
        reason = getattr(reason, "reason", reason)  # MaxRetryError → the connect error inside
        cause = getattr(reason, "__cause__", None)
        if isinstance(reason, urllib3.exceptions.NameResolutionError) or isinstance(cause, socket.gaierror):
            return _Failure(f"host name {self._host!r} does not resolve (DNS failure)", permanent=True,
                            hint=f"check the host in {ENDPOINT_KEY}; a compute node without internet access cannot "
                                 "reach the Perspective API: score on a node that can, or point the endpoint at a "
                                 "Perspective-compatible server it can reach")
        if isinstance(reason, urllib3.exceptions.NewConnectionError) and not isinstance(err, requests.ConnectTimeout):
            if isinstance(cause, ConnectionRefusedError):
                return _Failure(f"connection refused by {where}", permanent=True,
                                hint=f"nothing accepts connections at {where}: check the host and port in "
                                     f"{ENDPOINT_KEY} and that the server is running")
            code = getattr(cause, "errno", None)
            if code in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                return _Failure(f"{where} is unreachable ({errno.errorcode.get(code, code)})", permanent=True,
                                hint=f"this machine has no route to {where} (a compute node without internet "
                                     "access?): score where the endpoint is reachable, or change "
                                     f"{ENDPOINT_KEY}")
            name = errno.errorcode.get(code, type(cause).__name__) if code is not None else type(cause).__name__
            return _Failure(f"could not connect to {where} ({name})")
        detail = type(reason).__name__ if isinstance(reason, BaseException) else None
        return _Failure(f"connection error ({type(err).__name__}{f': {detail}' if detail else ''})")

    def _read_body(self, response) -> str:
        """Read the body; stop at the deadline even if the watchdog could not reach the socket (SOCKS proxy)."""
        deadline = time.monotonic() + self.timeout
        chunks = []
        for chunk in response.iter_content(chunk_size=65536):
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise requests.Timeout("body transfer exceeded the timeout")
        return b"".join(chunks).decode("utf-8", errors="replace")

    @staticmethod
    def _retry_after(response) -> float | None:
        value = response.headers.get("Retry-After")
        try:
            seconds = float(value) if value is not None else None
        except ValueError:
            return None
        return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None

    @staticmethod
    def _error_message(payload: str, key: str) -> tuple[str, set[str]]:
        """The server's error message (redacted, then cut) and the errorType/reason tags of its details."""
        try:
            error = json.loads(payload).get("error", {})
            if not isinstance(error, dict):
                error = {}
        except (ValueError, AttributeError):
            error = {}
        raw = error.get("message")
        message = redact(raw if isinstance(raw, str) else payload, key)[:200]
        details = error.get("details") if isinstance(error.get("details"), list) else []
        kinds = {str(d.get(k, "")) for d in details if isinstance(d, dict) for k in ("errorType", "reason")}
        return message, kinds

    @classmethod
    def _error_summary(cls, payload: str, key: str) -> str:
        message, _ = cls._error_message(payload, key)
        return f": {message}" if message else ""

    def _client_error(self, status: int, payload: str, key: str, where: str, lang: str, code: str) -> _Failure:
        """A 4xx other than 408/429. Perspective's own verdicts on the key and the language are final at once; any
        other 4xx is permanent after a confirmation attempt."""
        message, kinds = self._error_message(payload, key)
        if any("LANGUAGE_NOT_SUPPORTED" in k for k in kinds) or "does not support request languages" in message:
            raise LanguageNotSupportedError(
                f"Perspective API does not support language {lang!r} (sent as {code!r}) for the requested "
                f"attributes {list(self._attributes)}: {message} (while scoring {where}). Drop the language, or "
                f"the unsupported attribute from config key {ATTRIBUTES_KEY}"
            )
        if any("API_KEY_INVALID" in k for k in kinds):
            raise RejectedKeyError(
                f"Perspective API rejected the key in ${KEY_ENV} (HTTP {status}: {message}) while scoring {where}"
            )
        if status in (401, 403):
            hint = (f"the server refused the key: check ${KEY_ENV} (a valid key whose project has the Comment "
                    f"Analyzer API enabled) and {ENDPOINT_KEY}")
        elif status in (404, 405):
            hint = (f"there is no Perspective API at {self.endpoint}: check the path in {ENDPOINT_KEY} (it ends in "
                    "/v1alpha1/comments:analyze)")
        else:
            hint = (f"the server rejects these requests: check {ATTRIBUTES_KEY} (only attributes the server knows) "
                    f"and {ENDPOINT_KEY}")
        return _Failure(f"HTTP {status}: {message}", permanent=True, hint=hint)
