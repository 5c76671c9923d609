"""A local stand-in for the Perspective API, for tests and the benchmark: real HTTP on 127.0.0.1 (port chosen by the
OS), the same request and response JSON, and faults injected on demand.

Scores are a hash of (attribute, text), so a test knows every value in advance (`expected_score`). Every request is
recorded (text, languages, attributes, arrival time, what the server answered). Faults:

    429, 500, 503   that HTTP status with a Google-style error body (transient)
    400, 403, 404   that HTTP status with a Google-style error body (permanent; no API_KEY_INVALID reason)
    slow            answer correctly, but only after `slow_delay` seconds (past the client's timeout)
    malformed       HTTP 200 with a truncated JSON body
    drop            read the request, then close the connection without answering
    trickle         HTTP 200 headers at once, then the correct body one byte every `trickle_interval` seconds
    trickle_headers the status line, then the headers one byte every `trickle_interval` seconds
    echo_key        HTTP 200 whose score values are the API key the request carried (a string)
    bad_header      a correct answer with a header line that has no colon and carries the request's key (urllib3
                    logs a warning quoting it, with a traceback)
    bool, string,   HTTP 200 whose TOXICITY value is JSON false / "0.25" / null / NaN / 1.5
    null, nan, out_of_range

With `echo_key=True` every error message also carries the key the request sent (raw and URL-encoded), as a careless
server might. A trickle stops after `trickle_max` seconds or when the client hangs up, so no server thread outlives a
test. `closed_port_url()` gives a URL where nothing listens (connection refused).

`inject(kind, count=None, per_text=False, texts=None)`: the next `count` matching requests get the fault (every one if
count is None); with per_text, the first `count` requests *of each text*; `texts` restricts it to those texts.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import socket
from urllib.parse import parse_qs, quote, urlsplit

PATH = "/v1alpha1/comments:analyze"
KNOWN_ATTRIBUTES = {"TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT",
                    "SEXUALLY_EXPLICIT", "FLIRTATION"}
FAULTS = ("429", "500", "503", "400", "403", "404", "slow", "malformed", "drop", "trickle", "trickle_headers",
          "echo_key", "bad_header", "bool", "string", "null", "nan", "out_of_range")
BAD_VALUES = {"bool": False, "string": "0.25", "null": None, "nan": float("nan"), "out_of_range": 1.5}


def closed_port_url() -> str:
    """A loopback URL on a port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{PATH}"


def expected_score(text: str, attribute: str = "TOXICITY") -> float:
    digest = hashlib.sha256(f"{attribute}\0{text}".encode("utf-8")).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF


@dataclass
class Received:
    text: str | None
    languages: list | None
    attributes: list | None
    time: float  # time.monotonic() at arrival
    answer: str  # "ok", a fault kind, or the error status sent
    key: str | None = field(default=None, repr=False)


@dataclass
class _Fault:
    kind: str
    count: int | None
    per_text: bool
    texts: frozenset | None
    used: int = 0
    used_by_text: dict = field(default_factory=dict)

    def take(self, text: str) -> bool:
        if self.texts is not None and text not in self.texts:
            return False
        if self.per_text:
            n = self.used_by_text.get(text, 0)
            if self.count is not None and n >= self.count:
                return False
            self.used_by_text[text] = n + 1
            return True
        if self.count is not None and self.used >= self.count:
            return False
        self.used += 1
        return True


def _error_body(code: int, status: str, message: str, details: list | None = None) -> dict:
    error = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


class PerspectiveServer:
    def __init__(self, key: str = "test-key-0123456789", supported_languages=None, latency: float = 0.0,
                 slow_delay: float = 2.0, trickle_interval: float = 0.2, trickle_max: float = 30.0,
                 echo_key: bool = False):
        self.key = key
        self.trickle_interval = trickle_interval
        self.trickle_max = trickle_max
        self.echo_key = echo_key
        self.supported_languages = set(supported_languages) if supported_languages is not None else None
        self.latency = latency
        self.slow_delay = slow_delay
        self.received: list[Received] = []
        self.ok_sent = 0  # complete correct answers written to the socket
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- control

    def __enter__(self) -> "PerspectiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "PerspectiveServer":
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, client_address: None  # clients that time out are expected
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    def inject(self, kind: str, count: int | None = None, per_text: bool = False, texts=None) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; choose from {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(kind, count, per_text, frozenset(texts) if texts is not None else None))

    def clear(self) -> None:
        """Forget faults and recorded requests (between two runs of one test)."""
        with self._lock:
            self._faults.clear()
            self.received.clear()
            self.ok_sent = 0

    # ---------------------------------------------------------------- queries

    def texts(self) -> list[str]:
        with self._lock:
            return [r.text for r in self.received if r.text is not None]

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    # ---------------------------------------------------------------- used by the handler

    def _record(self, entry: Received) -> None:
        with self._lock:
            self.received.append(entry)

    def _fault_for(self, text: str) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.take(text):
                    return fault.kind
        return None

    def _answered(self) -> None:
        with self._lock:
            self.ok_sent += 1


class _Handler(BaseHTTPRequestHandler):
    owner: PerspectiveServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the real service
    # headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every answer
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - silence per-request stderr lines
        pass

    def _error(self, code: int, status: str, message: str, details: list | None = None) -> dict:
        if self.owner.echo_key and self._key is not None:
            message = f"{message} (request key {self._key}, encoded {quote(self._key, safe='')})"
        return _error_body(code, status, message, details)

    def _trickle(self, head: bytes, rest: bytes) -> bool:
        """Send `head` at once and `rest` a byte at a time; False when the client hung up or time ran out."""
        owner = self.owner
        end = time.monotonic() + owner.trickle_max
        try:
            self.wfile.write(head)
            self.wfile.flush()
            for i in range(len(rest)):
                if time.monotonic() > end:
                    break
                time.sleep(owner.trickle_interval)
                self.wfile.write(rest[i : i + 1])
                self.wfile.flush()
            else:
                return True
        except OSError:
            pass
        self.close_connection = True
        return False

    def _send(self, status: int, body, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout): nothing to do
            self.close_connection = True
            raise _ClientGone() from None

    def do_POST(self):  # noqa: N802 - http.server's naming
        owner = self.owner
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        arrival = time.monotonic()
        split = urlsplit(self.path)
        key = parse_qs(split.query).get("key", [None])[0]
        self._key = key
        try:
            body = json.loads(raw)
            text = body["comment"]["text"]
            languages = body.get("languages")
            attributes = list(body["requestedAttributes"])
        except (ValueError, KeyError, TypeError):
            owner._record(Received(None, None, None, arrival, "400 bad body", key))
            return self._try(400, self._error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))
        entry = Received(text, languages, attributes, arrival, "ok", key)
        owner._record(entry)
        if split.path != PATH:
            entry.answer = "404"
            return self._try(404, self._error(404, "NOT_FOUND", "Not found"))
        if key is None:
            entry.answer = "403"
            return self._try(403, self._error(403, "PERMISSION_DENIED",
                                              "The request is missing a valid API key."))
        if key != owner.key:
            entry.answer = "400 key"
            return self._try(400, self._error(
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]))
        if not isinstance(text, str) or text == "":
            entry.answer = "400 empty"
            return self._try(400, self._error(400, "INVALID_ARGUMENT", "Comment must be non-empty.",
                                              [{"errorType": "COMMENT_EMPTY"}]))
        unknown = [a for a in attributes if a not in KNOWN_ATTRIBUTES]
        if not attributes or unknown or not isinstance(languages, list) or len(languages) != 1:
            entry.answer = "400 request"
            return self._try(400, self._error(400, "INVALID_ARGUMENT", f"Bad request: attributes {unknown}"))
        language = languages[0]
        if owner.supported_languages is not None and language not in owner.supported_languages:
            entry.answer = "400 language"
            return self._try(400, self._error(
                400, "INVALID_ARGUMENT", f"Attribute {attributes[0]} does not support request languages: {language}",
                [{"@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
                  "errorType": "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                  "languageNotSupportedByAttributeError": {"detectedLanguages": [language],
                                                           "attribute": attributes[0]}}]))
        fault = owner._fault_for(text)
        if fault:
            entry.answer = fault
        if fault in ("429", "500", "503", "400", "403", "404"):
            status = {"429": "RESOURCE_EXHAUSTED", "500": "INTERNAL", "503": "UNAVAILABLE", "400": "INVALID_ARGUMENT",
                      "403": "PERMISSION_DENIED", "404": "NOT_FOUND"}[fault]
            return self._try(int(fault), self._error(int(fault), status, f"injected {fault}"))
        if fault == "drop":
            self.close_connection = True
            return None
        if fault == "malformed":
            return self._try(200, b'{"attributeScores": {"TOXICITY": {"summaryScore": {"val')
        time.sleep(owner.slow_delay if fault == "slow" else owner.latency)
        scores = {a: {"summaryScore": {"value": expected_score(text, a), "type": "PROBABILITY"},
                      "spanScores": []} for a in attributes}
        if fault == "echo_key":
            for entry in scores.values():
                entry["summaryScore"]["value"] = key
        elif fault in BAD_VALUES and "TOXICITY" in scores:
            scores["TOXICITY"]["summaryScore"]["value"] = BAD_VALUES[fault]
        answer = {"attributeScores": scores, "languages": [language]}
        if fault in ("trickle", "trickle_headers", "bad_header"):
            data = json.dumps(answer).encode("utf-8")
            broken = f"Echo {key}\r\n" if fault == "bad_header" else ""
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\n"
                    f"Content-Length: {len(data)}\r\n{broken}\r\n").encode("utf-8")
            if fault == "bad_header":
                self._trickle(head + data, b"")
                return None
            if fault == "trickle":
                self._trickle(head, data)
            else:
                self._trickle(head[:9], head[9:] + data)
            return None
        if self._try(200, answer) and fault is None:
            owner._answered()

    def _try(self, status: int, body) -> bool:
        try:
            self._send(status, body)
            return True
        except _ClientGone:
            return False


class _ClientGone(Exception):
    pass


def fast_perspective(url: str, **overrides):
    """A Perspective client for tests against this server: high rate, short timeouts and backoff."""
    from xdetox.scoring.perspective import PerspectiveScorer

    options = dict(rate=500.0, concurrency=2, max_retries=2, timeout=2.0, backoff_base=0.005, backoff_max=0.02)
    options.update(overrides)
    return PerspectiveScorer(url, **options)
