"""Time-to-failure of a Perspective score job whose endpoint cannot work, with the default settings.

A job of `--texts` texts is scored through the cache (as the score rule does) against: a closed port (connection
refused), a host name that does not resolve (a real DNS lookup of a reserved .invalid name), an invalid URL (wrong
scheme), and a server that answers 403 / 404 to everything. For each: seconds until the job raised, the error class,
HTTP attempts made. Also: how long one request to a server that trickles its answer (a byte every 0.2 s) may take with
timeout 2 s, and how long the plan-time preflight takes to fail on the same endpoints.

Defaults are the client's: rate 1/s, concurrency 1, max_retries 10, backoff 1 s doubling to 60 s, timeout 30 s,
circuit breaker after 3 permanent failures in a row within 300 s. For comparison, the client before the breaker
retried every one of these as transient: 11 attempts per text with backoff min(60, 2^k) × U(0.5, 1) between them,
≈ 227 s per text expected (0.75 × 303 s), 5 texts before `abort_after` stopped the call: ≈ 19 min per job.

    .venv/bin/python bench/scoring_faults.py [--texts 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from perspective_server import PATH, PerspectiveServer, closed_port_url  # noqa: E402
from xdetox import XdetoxError  # noqa: E402
from xdetox.io import write_json  # noqa: E402
from xdetox.scoring.cache import CachedScorer, ScoreCache  # noqa: E402
from xdetox.scoring.perspective import KEY_ENV, PerspectiveScorer  # noqa: E402
from xdetox.scoring.preflight import preflight  # noqa: E402

KEY = "bench-key"
OLD_PER_TEXT_S = 0.75 * sum(min(60, 2**k) for k in range(10))  # expected backoff of the old client, per text
OLD_ABORT_AFTER = 5


def score_job(endpoint: str, n_texts: int, workdir: Path) -> dict:
    """Build the scorer and score a job the way the score rule does; time until it raises."""
    texts = [f"fault benchmark text {i}" for i in range(n_texts)]
    started = time.monotonic()
    scorer = None
    try:
        scorer = CachedScorer(PerspectiveScorer(endpoint), ScoreCache(workdir / f"cache-{time.monotonic_ns()}.sqlite"))
        scorer.score(texts, "en")
        outcome, message = "scored (unexpected)", ""
    except XdetoxError as err:
        outcome, message = type(err).__name__, str(err)
    seconds = time.monotonic() - started
    attempts = scorer.inner.stats["http_requests"] if scorer is not None else 0
    if scorer is not None:
        scorer.close()
    return {"seconds": round(seconds, 3), "error": outcome, "http_attempts": attempts, "message": message[:400]}


def preflight_time(endpoint: str, workdir: Path) -> dict:
    started = time.monotonic()
    try:
        preflight({"scorers": ["perspective"], "perspective": {"endpoint": endpoint}},
                  cache_path=workdir / "preflight.sqlite")
        outcome = "passed (unexpected)"
    except XdetoxError as err:
        outcome = type(err).__name__
    return {"seconds": round(time.monotonic() - started, 3), "error": outcome}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "scoring_faults.json"))
    args = parser.parse_args(argv)
    os.environ[KEY_ENV] = KEY
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp, PerspectiveServer(key=KEY, trickle_interval=0.2,
                                                                 trickle_max=60) as server:
        work = Path(tmp)
        endpoints = {
            "refused": closed_port_url(),
            "dns": f"https://xdetox-no-such-host.invalid{PATH}",
            "invalid_url": f"ftp://127.0.0.1{PATH}",
            "403": server.url,
            "404": server.url.replace(PATH, "/wrong/path"),
        }
        for name, endpoint in endpoints.items():
            server.clear()
            if name == "403":
                server.inject("403")
            results[name] = score_job(endpoint, args.texts, work)
            results[name]["server_requests"] = server.count() if name in ("403", "404") else None
            server.clear()
            if name == "403":
                server.inject("403")
            results[name]["preflight"] = preflight_time(endpoint, work)

        server.clear()
        server.inject("trickle")
        scorer = PerspectiveScorer(server.url, timeout=2.0, max_retries=0)
        started = time.monotonic()
        try:
            scorer.score(["trickled"], "en")
        except XdetoxError:
            pass
        results["trickle_timeout_2s"] = {"seconds": round(time.monotonic() - started, 3),
                                         "server_requests": server.count(),
                                         "body_would_take_s": round(0.2 * 700, 1)}

    old_job_s = OLD_PER_TEXT_S * OLD_ABORT_AFTER
    for name, r in results.items():
        if name == "trickle_timeout_2s":
            print(f"{name:>18}: one request ended after {r['seconds']:.2f} s (the trickled body would take "
                  f"~{r['body_would_take_s']:.0f} s)")
            continue
        server_part = f", {r['server_requests']} at the server" if r["server_requests"] is not None else ""
        print(f"{name:>18}: job failed in {r['seconds']:7.2f} s ({r['error']}, {r['http_attempts']} attempts"
              f"{server_part}); preflight failed in {r['preflight']['seconds']:.2f} s; "
              f"old client ≈ {old_job_s / 60:.0f} min")
    write_json(args.out, {"settings": "client defaults", "texts": args.texts,
                          "old_client_expected_s": {"per_text": OLD_PER_TEXT_S, "per_job": old_job_s},
                          "results": results})
    print(f"wrote {args.out}")
    fast = all(r["seconds"] < 30 for k, r in results.items() if k not in ("trickle_timeout_2s", "dns"))
    return 0 if fast else 1


if __name__ == "__main__":
    sys.exit(main())
