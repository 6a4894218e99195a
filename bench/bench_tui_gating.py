#!/usr/bin/env python3
"""Does background gating slow the annotator? Keypress → vote committed → next pair, with and without
``sbs gate --watch`` working in the background, in one run.

Database (built fresh in a temporary folder): the shared AlpacaEval outputs (8 models × 805 prompts). The first
half of the prompts is marked passed and queued for judging; the second half is left pending, so the
background watcher has real work for the whole measurement: toxicity per sentence, sentiment and the MiniLM
helpfulness gate (torch, in the subprocess — the annotator process never imports it).

Measured under Textual's Pilot at 160×50, as bench/bench_tui.py measures (same harness):
* floor         — the trivial-widget baseline (what any keypress costs under Pilot);
* idle          — the annotator app, nothing in the background;
* gating        — the same app while the watcher scores the pending half.

Usage: python bench/bench_tui_gating.py [--presses 150]. Prints JSON, then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_tui import measure_app, measure_floor, summary  # noqa: E402

ALPACA = ROOT.parent / "shared" / "data" / "alpaca_eval" / "outputs"
CONFIG = """
[gates.helpfulness]
enabled = true
"""


def build(db: Path, config: Path) -> int:
    """Import, mark half the prompts passed, build the queue; returns how many generations stay pending."""
    from sbs_tui.core.ingest.importer import import_files
    from sbs_tui.core.store import Store

    files = sorted(ALPACA.glob("*.jsonl"))
    if not files:
        raise SystemExit(f"needs the shared AlpacaEval outputs in {ALPACA}")
    with Store(db) as store:
        import_files(store, "generations", files)
        prompts = [r[0] for r in store.conn.execute("SELECT id FROM prompts ORDER BY id")]
        first_half = set(prompts[: len(prompts) // 2])
        passed = [gid for gid, pid in store.conn.execute("SELECT id, prompt_id FROM generations")
                  if pid in first_half]
        with store.transaction():
            store.generations.set_gate_status(passed, "passed")
        pending = store.count("generations") - len(passed)
    config.write_text(CONFIG, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "sbs_tui", "--db", str(db), "queue", "build", "--overlap", "3"],
                   check=True, capture_output=True)
    return pending


def pending_count(db: Path) -> int:
    from sbs_tui.core.store import Store

    with Store(db) as store:
        return len(store.generations.ids(gate_status="pending"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=150)
    args = parser.parse_args()
    from sbs_tui.core.gates.watcher import ensure_watcher  # the app's own way to start it (one per database)

    with tempfile.TemporaryDirectory(prefix="sbs-bench-gating-") as tmp:
        db, config = Path(tmp) / "gating.db", Path(tmp) / "gates.toml"
        pending_before = build(db, config)
        floor = asyncio.run(measure_floor(args.presses))
        idle, idle_store = asyncio.run(measure_app(db, args.presses, "bench-idle", markdown=True))
        watcher = ensure_watcher(str(db), str(config), interval=1.0, log_path=str(Path(tmp) / "gate.log"))
        if watcher is None:
            raise SystemExit("another gate watcher holds the fresh database's lock")
        try:
            time.sleep(8)  # let the watcher load its models and start scoring
            pending_at_start = pending_count(db)
            t0 = time.perf_counter()
            busy, busy_store = asyncio.run(measure_app(db, args.presses, "bench-busy", markdown=True))
            elapsed = time.perf_counter() - t0
            pending_at_end = pending_count(db)
        finally:
            watcher.terminate()
            watcher.wait(timeout=60)
    result = {
        "benchmark": "tui_keypress_while_gating",
        "baseline": "the same app with nothing in the background (and the Pilot floor)",
        "pending_generations": pending_before,
        "gated_during_measurement": pending_at_start - pending_at_end,
        "gated_per_s_during_measurement": round((pending_at_start - pending_at_end) / elapsed, 1),
        "floor": summary(floor),
        "idle": summary(idle),
        "gating": summary(busy),
        "store_idle": summary(idle_store),
        "store_gating": summary(busy_store),
    }
    result["ratio_gating_p95_over_idle_p95"] = round(result["gating"]["p95_ms"] / result["idle"]["p95_ms"], 2)
    result["ratio_gating_median_over_idle_median"] = round(
        result["gating"]["median_ms"] / result["idle"]["median_ms"], 2)
    print(json.dumps(result))
    print(f"\n{'measure':<22}{'median ms':>11}{'p95 ms':>10}{'max ms':>10}")
    for key in ("floor", "idle", "gating", "store_idle", "store_gating"):
        r = result[key]
        print(f"{key:<22}{r['median_ms']:>11.1f}{r['p95_ms']:>10.1f}{r['max_ms']:>10.1f}")
    print(f"gating/idle p95 = {result['ratio_gating_p95_over_idle_p95']}x; "
          f"{result['gated_during_measurement']} generations gated during the run "
          f"({result['gated_per_s_during_measurement']}/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
