"""Throughput of the concurrent HTTP client (scorers/http.py) against a loopback OpenAI-compatible server.

The server answers every chat request after a fixed latency (200 ms by default), so the ceiling at concurrency
C is C / latency requests a second; the baseline, measured in the same run, is concurrency 1 (what the
sequential urllib client did). The goal at concurrency 32 is at least 80 % of the ceiling.

    python bench/bench_judge.py                          # C = 1, 8, 32; JSON on stdout, a table on stderr
    python bench/bench_judge.py --requests 64 --latency 0.05 --concurrency 1 8   # a quick correctness run

Both client and server run in this process (the server is thread-per-connection), so on a loaded 2-core
machine the numbers at high concurrency are a lower bound for a real gateway.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scorers.http import ClientConfig, JsonClient  # noqa: E402
from tests.loopback_openai import LoopbackOpenAI  # noqa: E402


def measure(server: LoopbackOpenAI, concurrency: int, requests: int) -> dict:
    client = JsonClient(ClientConfig(base_url=server.base_url, concurrency=concurrency))
    payloads = ({"model": "judge", "max_tokens": 1,
                 "messages": [{"role": "user", "content": f"Which answer is better? #{i}"}]}
                for i in range(requests))
    server.peak_in_flight = 0
    # one warm-up request opens the first connection outside the timing
    client.run("chat/completions", [{"model": "judge", "messages": [{"role": "user", "content": "hi"}]}])
    started = time.perf_counter()
    results = client.run("chat/completions", payloads)
    elapsed = time.perf_counter() - started
    client.close()
    ok = sum(r.ok for r in results)
    rate = ok / elapsed
    ceiling = concurrency / server.latency
    return {"concurrency": concurrency, "requests": requests, "ok": ok, "seconds": round(elapsed, 3),
            "requests_per_s": round(rate, 2), "ceiling_per_s": round(ceiling, 2),
            "share_of_ceiling": round(rate / ceiling, 3), "peak_in_flight": server.peak_in_flight}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2, help="server latency in seconds (default 0.2)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per level (default: 10 rounds of the concurrency, at least 20)")
    args = parser.parse_args()
    rows = []
    with LoopbackOpenAI(latency=args.latency) as server:
        for c in args.concurrency:
            rows.append(measure(server, c, args.requests or max(20, 10 * c)))
    baseline = rows[0]["requests_per_s"] if rows else 0.0
    for row in rows:
        row["speedup_vs_first"] = round(row["requests_per_s"] / baseline, 2) if baseline else None
    print(json.dumps({"latency_s": args.latency, "levels": rows}, indent=2))
    print(f"\n{'concurrency':>11} {'req/s':>8} {'ceiling':>8} {'share':>6} {'speedup':>7} {'peak':>5}",
          file=sys.stderr)
    for r in rows:
        print(f"{r['concurrency']:>11} {r['requests_per_s']:>8.1f} {r['ceiling_per_s']:>8.1f} "
              f"{r['share_of_ceiling']:>6.0%} {r['speedup_vs_first']:>7.1f} {r['peak_in_flight']:>5}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
