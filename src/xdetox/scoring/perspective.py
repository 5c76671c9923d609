"""A client for the Perspective API (commentanalyzer v1alpha1) that survives quotas, outages and crashes.

It speaks only the documented REST API — POST {url}?key=KEY with
``{"comment": {"text": …}, "languages": [code], "requestedAttributes": {ATTR: {}, …}}`` — and returns
``attributeScores[ATTR].summaryScore.value`` per attribute; storing results is the cache's job (cache.CachedScorer),
which receives each score the moment it arrives through `iter_score`.

What the reference does and we keep (xg/eval/perspective_api_eval.py): the six attributes below, TOXICITY drives the metrics, zh-hans
is sent as zh, an empty continuation is sent as " ", at most 10 retries. What we do instead of its fixed 2 s sleep per
100 texts: a token bucket at the configured rate (your quota), a thread pool when concurrency > 1, and per-text
exponential backoff with jitter on 429, 5xx, timeouts, dropped connections and malformed JSON.

The API key comes from the environment variable PERSPECTIVE_API_KEY only; it is never an attribute, never logged,
never part of an exception (requests/urllib3 messages carry the full URL, so they are never passed on verbatim).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from typing import Iterator, Sequence
from urllib.parse import urlsplit

import requests

from ..languages import PERSPECTIVE_CODE
from .base import Score, Scorer, ScoringError

log = logging.getLogger("xdetox.scoring")

KEY_ENV = "PERSPECTIVE_API_KEY"
DEFAULT_URL = "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze"
#: requested by the reference (SEXUALLY_EXPLICIT is left out there: not supported for non-English languages)
REFERENCE_ATTRIBUTES = ("TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT")
METRIC_ATTRIBUTE = "TOXICITY"


class PerspectiveError(ScoringError):
    """The Perspective API did not give a score."""


class MissingKeyError(PerspectiveError):
    pass


class RejectedKeyError(PerspectiveError):
    pass


class LanguageNotSupportedError(PerspectiveError):
    pass


class TextNotScoredError(PerspectiveError):
    """One text failed for good (retries exhausted, or the API refused that text)."""


class _Stopped(Exception):
    """The call was aborted (fatal error elsewhere, or the consumer went away) before this text was sent."""


def _preview(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[: width - 1] + "…")


class _Call:
    """State shared by the workers of one iter_score call."""

    def __init__(self, stop: threading.Event, lang: str):
        self.stop = stop
        self.lang = lang
        self.lock = threading.Lock()
        self.failed_in_a_row = 0
        self.fatal: PerspectiveError | None = None


class TokenBucket:
    """Hands out request slots at `rate` per second to any number of threads (bucket of one: no bursts).

    Each caller reserves the next free slot under a lock and then sleeps outside it until its slot comes, so
    threads queue fairly and the long-run rate is exactly `rate`, however many threads wait.
    """

    def __init__(self, rate: float):
        if rate <= 0:
            raise ValueError("rate must be positive")
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
        return "<redacted>"

    __str__ = __repr__


class _RedactKey(logging.Filter):
    """urllib3 logs request lines with the query string (…?key=…) at DEBUG; blank the key before any handler sees it."""

    def __init__(self, key: str):
        super().__init__()
        self._key = key

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._key in message:
            record.msg, record.args = message.replace(self._key, "<redacted>"), ()
        return True

    def __repr__(self) -> str:
        return "_RedactKey(<redacted>)"


class PerspectiveScorer(Scorer):
    """Perspective API scorer. Thread pool of `concurrency` workers sharing one token bucket at `rate` requests/s.

    `max_retries` bounds the retries per text (so at most max_retries + 1 requests per text); `timeout` bounds every
    request (connect, each read, and the whole body). After `abort_after` texts in a row fail for good the call stops
    (the service is down: retrying the rest would only burn quota and time); the cache keeps what was done.
    """

    id = "perspective"
    streams_results = True

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        rate: float = 1.0,
        concurrency: int = 1,
        max_retries: int = 10,
        timeout: float = 30.0,
        attributes: Sequence[str] = REFERENCE_ATTRIBUTES,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        abort_after: int = 5,
    ):
        attributes = tuple(attributes)
        if METRIC_ATTRIBUTE not in attributes:
            raise PerspectiveError(
                f"config key scoring.perspective.attributes must include {METRIC_ATTRIBUTE} (it drives the metrics); "
                f"got {list(attributes)}"
            )
        if urlsplit(url).query:
            raise PerspectiveError("config key scoring.perspective.url must not carry a query string; "
                                   f"the API key is read from ${KEY_ENV}")
        self.url = url
        self.rate = float(rate)
        self.concurrency = int(concurrency)
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        self._attributes = attributes
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.abort_after = int(abort_after)
        self._bucket = TokenBucket(self.rate)
        self._sessions = threading.local()
        self._open_sessions: list = []
        self._stats_lock = threading.Lock()
        #: cumulative over calls: HTTP requests sent (retries included), texts scored and texts that failed for good
        self.stats = {"http_requests": 0, "retries": 0, "scored": 0, "failed": 0}

    def __repr__(self) -> str:
        return (f"PerspectiveScorer(url={self.url!r}, rate={self.rate}, concurrency={self.concurrency}, "
                f"max_retries={self.max_retries}, timeout={self.timeout}, attributes={list(self._attributes)})")

    @property
    def version(self) -> str:
        # The API exposes no model version; the endpoint is the most specific identity we have (and it keeps a test
        # server's scores apart from the real service's).
        return f"perspective:{self.url}"

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
        redact = _RedactKey(key.value)
        urllib3_log = logging.getLogger("urllib3.connectionpool")
        urllib3_log.addFilter(redact)
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
            urllib3_log.removeFilter(redact)
            self._close_sessions()
            self._report_throughput(self.stats["http_requests"] - before["http_requests"],
                                    self.stats["retries"] - before["retries"], time.monotonic() - started, lang)
        if call.fatal is not None:
            left = len(texts) - yielded - len(failures)
            raise type(call.fatal)(f"{call.fatal} [{yielded} scored, {len(failures)} failed, {left} not attempted]") \
                from None
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
            with self._stats_lock:
                self._open_sessions.append(session)
        return session

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

    def _work(self, call: "_Call", key: _ApiKey, text: str, index: int, code: str) -> Score:
        """Score one text; decide here, in the worker, whether the whole call must stop, so no thread sends
        another request after a fatal answer (the consumer thread may learn of it only later)."""
        try:
            score = self._score_one(key, text, index, call.lang, code, call.stop)
        except TextNotScoredError as err:
            with call.lock:
                call.failed_in_a_row += 1
                if call.failed_in_a_row >= self.abort_after and call.fatal is None:
                    call.fatal = PerspectiveError(
                        f"Perspective API: {call.failed_in_a_row} texts in a row (lang {call.lang!r}) could not be "
                        f"scored; giving up on the remaining ones. Last error: {err}"
                    )
                    call.stop.set()
            raise
        except PerspectiveError as err:  # rejected key, unsupported language: every other text would fail too
            with call.lock:
                if call.fatal is None:
                    call.fatal = err
                call.stop.set()
            raise
        with call.lock:
            call.failed_in_a_row = 0
        return score

    def _score_one(self, key: _ApiKey, text: str, index: int, lang: str, code: str, stop: threading.Event) -> Score:
        body = {
            "comment": {"text": text if text else " "},  # the API rejects empty comments; the reference sends " "
            "languages": [code],
            "requestedAttributes": {attr: {} for attr in self._attributes},
        }
        where = f"text #{index} {_preview(text)} (lang {lang!r})"
        reason = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if not self._bucket.acquire(stop):
                raise _Stopped()
            self._count(http_requests=1, retries=1 if attempt else 0)
            outcome = self._request(key, body, where, lang, code)
            if isinstance(outcome, Score):
                return outcome
            reason, retry_after = outcome
            if attempt == self.max_retries:
                break
            delay = min(self.backoff_max, self.backoff_base * 2**attempt) * random.uniform(0.5, 1.0)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.backoff_max))
            log.warning("perspective: %s: %s; retry %d/%d in %.2f s", where, reason, attempt + 1, self.max_retries,
                        delay)
            if stop.wait(delay):
                raise _Stopped()
        raise TextNotScoredError(f"{where}: {reason} after {self.max_retries + 1} attempt(s)")

    def _request(self, key: _ApiKey, body: dict, where: str, lang: str, code: str):
        """One HTTP request → a Score, or (reason, retry-after seconds) for a retryable failure; raises if final."""
        try:
            response = self._session().post(self.url, params={"key": key.value}, json=body, timeout=self.timeout,
                                            stream=True)
            try:
                payload = self._read_body(response)
            finally:
                response.close()
        except requests.Timeout:
            return f"timed out after {self.timeout:g} s", None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
            # str(err) holds the URL with the key: only the class name is passed on
            return f"connection error ({type(err).__name__})", None
        except requests.RequestException as err:
            return f"request failed ({type(err).__name__})", None
        status = response.status_code
        if status == 429 or status >= 500:
            return f"HTTP {status}{self._error_summary(payload, key.value)}", self._retry_after(response)
        if status != 200:
            raise self._client_error(status, payload, key.value, where, lang, code)
        try:
            data = json.loads(payload)
            values = {attr: float(data["attributeScores"][attr]["summaryScore"]["value"]) for attr in self._attributes}
        except (ValueError, KeyError, TypeError) as err:
            return f"malformed response ({type(err).__name__}: {str(err)[:80]})", None
        if not all(0.0 <= v <= 1.0 for v in values.values()):
            return f"malformed response (score outside [0, 1]: {values})", None
        return Score(toxicity=values[METRIC_ATTRIBUTE], attributes=values)

    def _read_body(self, response) -> str:
        """Read the body with a deadline on the whole transfer, not just on each socket read."""
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
            return float(value) if value is not None else None
        except ValueError:
            return None

    @staticmethod
    def _error_summary(payload: str, key: str) -> str:
        try:
            message = json.loads(payload)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            return ""
        return f": {str(message)[:200].replace(key, '<redacted>')}"

    def _client_error(self, status: int, payload: str, key: str, where: str, lang: str, code: str) -> PerspectiveError:
        """A 4xx other than 429: retrying cannot help. Classify it from Perspective's error body."""
        try:
            error = json.loads(payload).get("error", {})
        except (ValueError, AttributeError):
            error = {}
        message = str(error.get("message", payload[:200])).replace(key, "<redacted>")
        details = error.get("details") or []
        kinds = {str(d.get(k, "")) for d in details if isinstance(d, dict) for k in ("errorType", "reason")}
        if any("LANGUAGE_NOT_SUPPORTED" in k for k in kinds) or "does not support request languages" in message:
            return LanguageNotSupportedError(
                f"Perspective API does not support language {lang!r} (sent as {code!r}) for the requested "
                f"attributes {list(self._attributes)}: {message} (while scoring {where}). Drop the language, or "
                f"the unsupported attribute from config key scoring.perspective.attributes"
            )
        if status in (401, 403) or any("API_KEY" in k for k in kinds):
            return RejectedKeyError(
                f"Perspective API rejected the key in ${KEY_ENV} (HTTP {status}: {message}) while scoring {where}"
            )
        return TextNotScoredError(f"{where}: HTTP {status}: {message}")
