"""Benchmark the Perspective client + cache against the local test server (tests/perspective_server.py).

For each setting: 200 fresh texts scored through the cache; achieved ÷ configured request rate (goal ≥ 0.95),
measured both at the server (spacing of arrivals) and at the client (texts ÷ wall time); then an identical rerun,
which should make no request at all. Numbers are printed and written to bench/out/scoring.json.

    .venv/bin/python bench/scoring.py [--texts 200] [--latency 0.05]
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

from perspective_server import PerspectiveServer, expected_score  # noqa: E402
from xdetox.io import write_json  # noqa: E402
from xdetox.scoring.cache import CachedScorer, ScoreCache  # noqa: E402
from xdetox.scoring.perspective import KEY_ENV, PerspectiveScorer  # noqa: E402

SETTINGS = ({"rate": 20.0, "concurrency": 1}, {"rate": 50.0, "concurrency": 4})
KEY = "bench-key"


def run_setting(rate: float, concurrency: int, n_texts: int, latency: float, workdir: Path) -> dict:
    texts = [f"benchmark continuation {rate:g}/{concurrency} #{i}" for i in range(n_texts)]
    with PerspectiveServer(key=KEY, latency=latency) as server:
        cache_path = workdir / f"cache-{rate:g}-{concurrency}.sqlite"
        scorer = CachedScorer(PerspectiveScorer(server.url, rate=rate, concurrency=concurrency, timeout=10),
                              ScoreCache(cache_path))
        start = time.monotonic()
        scores = scorer.score(texts, "en")
        wall = time.monotonic() - start
        assert [s.toxicity for s in scores] == [expected_score(t) for t in texts], "wrong scores"
        arrivals = sorted(r.time for r in server.received)
        first_run_requests = len(arrivals)
        server_rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
        server.clear()
        start = time.monotonic()
        scorer.score(texts, "en")
        rerun_wall = time.monotonic() - start
        rerun_requests = server.count()
        scorer.close()
    return {
        "configured_rate": rate,
        "concurrency": concurrency,
        "server_latency_s": latency,
        "texts": n_texts,
        "requests": first_run_requests,
        "server_rate": round(server_rate, 3),
        "server_rate_ratio": round(server_rate / rate, 4),
        "client_rate": round(n_texts / wall, 3),
        "client_rate_ratio": round(n_texts / wall / rate, 4),
        "wall_s": round(wall, 3),
        "rerun_requests": rerun_requests,
        "rerun_wall_s": round(rerun_wall, 4),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=200)
    # one worker cannot exceed 1/latency requests per second: at 20/s with 1 worker, keep latency well under 50 ms
    parser.add_argument("--latency", type=float, default=0.02, help="server seconds per answer (simulated)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "scoring.json"))
    args = parser.parse_args(argv)
    os.environ[KEY_ENV] = KEY
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_setting(s["rate"], s["concurrency"], args.texts, args.latency, Path(tmp)) for s in SETTINGS]
    for r in results:
        ok = "ok" if r["server_rate_ratio"] >= 0.95 and r["rerun_requests"] == 0 else "BELOW GOAL"
        print(f"rate {r['configured_rate']:g}/s × {r['concurrency']} workers, {r['texts']} texts, "
              f"{r['server_latency_s'] * 1000:g} ms latency: achieved {r['server_rate']:.2f}/s at the server "
              f"(×{r['server_rate_ratio']:.3f}), {r['client_rate']:.2f}/s end to end (×{r['client_rate_ratio']:.3f}); "
              f"rerun: {r['rerun_requests']} requests in {r['rerun_wall_s']:.3f} s  [{ok}]")
    write_json(args.out, {"goal": {"rate_ratio_min": 0.95, "rerun_requests": 0}, "results": results})
    print(f"wrote {args.out}")
    return 0 if all(r["server_rate_ratio"] >= 0.95 and r["rerun_requests"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
