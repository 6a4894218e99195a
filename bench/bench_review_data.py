#!/usr/bin/env python3
"""The review app's data and ``sbs report`` on a large database: seconds and peak RSS per tab, tallies vs raw.

Each measurement runs in a fresh child process (its peak RSS is its own, read with ``resource.getrusage``), on a
copy of the database built by ``bench_review.build`` (``--votes`` human votes by 20 annotators, overlap 3):

* ``catch-up`` — counting every vote into the store's tallies (:mod:`sbs_tui.core.store.tallies`) from zero: what
  a database pays once (or after an annotator's kind or a model's name changes);
* per tab, **tallies** (the product) against **raw** (the same view counting the raw votes, the code before the
  tallies, same run): agreement, plots; and the tabs that never read every vote (queue, gates & funnel, votes,
  blocked) once;
* ``sbs report`` end to end (``--bootstrap 1000``, the CLI in a child process), after the catch-up.

``seconds`` is a cold process (start-up, imports, a cold page cache: the CLI's case); ``again_s`` the same call
once more in that process (the review app's case: its helper processes stay up between refreshes).

    python bench/bench_review_data.py --votes 1000000          # JSON on stdout, a table on stderr
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_review import OUT, build  # noqa: E402

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from sbs_tui.core.store import Store
started = time.perf_counter()
store = Store({db!r})
{code}
first = time.perf_counter() - started
again = time.perf_counter()
{code}
again = time.perf_counter() - again
store.close()
print(json.dumps({{"seconds": first, "again_s": again,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
JOBS = {
    "catch-up (tallies from zero)": "store.tallies.catch_up()",
    "agreement, tallies": "from sbs_tui.core.views.review import agreement_view; agreement_view(store)",
    "agreement, raw votes": "from sbs_tui.core.analysis.agreement import analyse_store; "
                            "analyse_store(store, use_tallies=False).to_json()",
    "plots, tallies": "from sbs_tui.core.analysis.plots import collect_plot_data; collect_plot_data(store)",
    "plots, raw votes": "from sbs_tui.core.analysis.plots import collect_plot_data; collect_plot_data(store, use_tallies=False)",
    "ranking (bt, sandwich)": "from sbs_tui.core.views.ranking import ranking_view; "
                              "from sbs_tui.core.ranking.api import RankRequest; ranking_view(store, "
                              "RankRequest(ci='sandwich'))",
    "queue": "from sbs_tui.core.views.queue import queue_view; queue_view(store)",
    "gates & funnel": "from sbs_tui.core.views.funnel import funnel_view; funnel_view(store)",
    "votes": "from sbs_tui.core.views.review import votes_view; votes_view(store)",
    "blocked": "from sbs_tui.core.views.review import blocked_view; blocked_view(store)",
}


def child(db: Path, code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), db=str(db), code=code)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(db: Path) -> dict[str, float]:
    """``sbs report`` as a user runs it (the CLI's ``main`` in a child process: start-up, imports and all)."""
    code = ("from sbs_tui.cli import main\nstore.close()\ntry:\n    main(['--db', {db!r}, 'report', '--out', "
            "{out!r}])\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\nstore = Store({db!r})"
            ).format(db=str(db), out=str(db) + ".report.html")
    return child(db, code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--prompts", type=int, default=5_000)
    parser.add_argument("--jobs", nargs="*", default=list(JOBS), help="which measurements (default: all)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / f"review_{args.votes}_{args.prompts}_8_20.db"
    if not source.exists():
        build(source, votes=args.votes, prompts=args.prompts, models=8, annotators=20)
    db = OUT / f"data_{args.votes}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copy(source, db)
    results = {label: child(db, JOBS[label]) for label in args.jobs}
    results["sbs report (bootstrap 1000)"] = report(db)
    print(json.dumps({"votes": args.votes, "results": results}, indent=2))
    print(f"\n{'step':<32}{'cold s':>9}{'again s':>9}{'peak RSS MB':>13}", file=sys.stderr)
    for label, r in results.items():
        print(f"{label:<32}{r['seconds']:>9.2f}{r['again_s']:>9.2f}{r['rss_mb']:>13.0f}", file=sys.stderr)
    for tab in ("agreement", "plots"):
        fast, slow = results.get(f"{tab}, tallies"), results.get(f"{tab}, raw votes")
        if fast and slow:
            print(f"{tab}: raw / tallies = {slow['seconds'] / fast['seconds']:.1f}x", file=sys.stderr)


if __name__ == "__main__":
    main()
