"""Throughput of ``sbs generate`` (``sbs_tui.core.generate.generation.run_generate``: streamed requests through the shared
client, answers committed to a SQLite database) against the shipped loopback server
(``python -m sbs_tui.testing.fake_endpoint``, in its own process) with a set latency and token rate.

Every answer is exactly ``--tokens`` tokens (``max_tokens``; the server's answers are never shorter than 20), so
one request ideally takes ``d = latency + (tokens - 1) / tokens_per_s`` and the ceiling at concurrency C is
``C / d`` answers a second. The baseline, measured in the same run, is concurrency 1. The goal at 64 in flight is
at least 80 % of the ceiling.

    python bench/bench_generate.py                      # C = 1 and 64; JSON on stdout, a table on stderr
    python bench/bench_generate.py --concurrency 1 8 64 --latency 0.2 --tokens-per-s 100

The client (and its SQLite writes) and the server share the machine, so on a loaded 2-core box the numbers are
a lower bound for a real vLLM server on its own GPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sbs_tui.config import Settings  # noqa: E402
from sbs_tui.core.generate.generation import GenerateRequest, run_generate  # noqa: E402
from sbs_tui.core.store import Store  # noqa: E402


def start_server(latency: float, tokens_per_s: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "sbs_tui.testing.fake_endpoint", "--port", "0", "--latency",
                             str(latency), "--tokens-per-s", str(tokens_per_s)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    url = next((w for w in line.split() if w.startswith("http://")), None)
    if url is None:
        proc.kill()
        raise SystemExit(f"the loopback server did not start: {line!r}")
    return proc, url


def measure(url: str, folder: Path, concurrency: int, requests: int, tokens: int, ideal_s: float) -> dict:
    prompts = folder / f"prompts-{concurrency}.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Question {i} at concurrency {concurrency}?"}) + "\n"
                               for i in range(requests)))
    settings = Settings(raw={"models": {"bench": {"base_url": url, "model": "org/bench", "max_tokens": tokens,
                                                  "max_retries": 0}}}, env={})
    store = Store(folder / f"bench-{concurrency}.db")
    try:
        request = GenerateRequest(models=["bench"], prompts_file=str(prompts), concurrency=concurrency)
        started = time.perf_counter()
        report = run_generate(store, settings, request)
        elapsed = time.perf_counter() - started
    finally:
        store.close()
    run = report.models[0]
    rate = run.stored / elapsed
    ceiling = concurrency / ideal_s
    return {"concurrency": concurrency, "requests": requests, "stored": run.stored, "failed": run.failed,
            "seconds": round(elapsed, 3), "answers_per_s": round(rate, 2), "ceiling_per_s": round(ceiling, 2),
            "share_of_ceiling": round(rate / ceiling, 3), "ttft_s_median": run.ttft_s,
            "tokens_per_s_median": run.tokens_per_s, "output_tokens_per_s": round(run.tokens_out / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds to the first token (default 0.5)")
    parser.add_argument("--tokens-per-s", type=float, default=50.0, help="per stream (default 50)")
    parser.add_argument("--tokens", type=int, default=20, help="tokens per answer, 1-20 (default 20)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--rounds", type=int, default=5, help="requests per level = rounds × concurrency "
                        "(at least 8; default 5)")
    args = parser.parse_args()
    if not 1 <= args.tokens <= 20:
        parser.error("--tokens must be 1-20 (the server's answers are at least 20 tokens long)")
    ideal = args.latency + (args.tokens - 1) / args.tokens_per_s
    proc, url = start_server(args.latency, args.tokens_per_s)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for c in args.concurrency:
                rows.append(measure(url, Path(tmp), c, max(8, args.rounds * c), args.tokens, ideal))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    baseline = rows[0]["answers_per_s"] if rows else 0.0
    for row in rows:
        row["speedup_vs_first"] = round(row["answers_per_s"] / baseline, 2) if baseline else None
    print(json.dumps({"latency_s": args.latency, "tokens_per_s": args.tokens_per_s, "tokens": args.tokens,
                      "ideal_request_s": round(ideal, 3), "levels": rows}, indent=2))
    print(f"{'C':>4} {'answers':>8} {'s':>7} {'ans/s':>8} {'ceiling':>8} {'share':>6} {'TTFT':>6} {'tok/s':>7} "
          f"{'speedup':>8}", file=sys.stderr)
    for r in rows:
        print(f"{r['concurrency']:>4} {r['stored']:>8} {r['seconds']:>7.2f} {r['answers_per_s']:>8.2f} "
              f"{r['ceiling_per_s']:>8.2f} {r['share_of_ceiling']:>6.0%} {r['ttft_s_median'] or 0:>6.3f} "
              f"{r['tokens_per_s_median'] or 0:>7.1f} {r['speedup_vs_first']:>7.1f}×", file=sys.stderr)


if __name__ == "__main__":
    main()
