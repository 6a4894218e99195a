"""Annotators voting while a lead imports a million votes: crashes, lost votes and commit latency.

Each annotator session is its own process (as each `sbs annotate` is) and runs the app's write path — the same
calls the judging screen makes: ``AnnotatorQueue.next_pair`` / ``AnnotatorQueue.vote`` wrapped in the screen's
retry policy (``dberrors.retry_busy`` polling every 1–4 ms on a connection with the app's busy timeout), with a
short think time between votes. Latency is what an annotator waits after a keypress: from the key to the vote
stored *and* the next pair claimed.

Baseline (same run): the very same sessions with no import running. The contender: the same sessions while
``sbs import votes`` (a separate process, the CLI path) imports N votes into the same database.

Checked, not just timed: every session's votes are read back by uid (0 lost, 0 duplicated), no session may raise,
and the import must succeed with every row stored.

    python bench/bench_concurrency.py                          # 8 sessions, 1,000,000 imported votes
    python bench/bench_concurrency.py --sessions 8 --votes 20000 --seconds 5   # a quick correctness run

The team variant (issue 11): 32 sessions for 20 s while the gate watcher (``sbs gate --watch``, gating pending
generations of extra models) and a lead's review app (its data loaders, refreshed every second in a worker
process, as ``sbs review --refresh 1`` does) run — against the same 32 sessions alone:

    python bench/bench_concurrency.py --team                   # 32 sessions, 20 s

Prints a JSON object and a short table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_import import make_votes  # noqa: E402
from sbs_tui.core.queue.build import BuildOptions, build_queue  # noqa: E402
from sbs_tui.core.records import GenerationRecord, prompt_id_for  # noqa: E402
from sbs_tui.core.store import Store  # noqa: E402


def make_db(path: Path, *, prompts: int, models: int) -> None:
    """Generations for ``prompts`` × ``models``, all passed, and a queue with overlap 1 (pairs to spare)."""
    store = Store(path)
    names = [f"model-{i:02d}" for i in range(models)]
    records = [GenerationRecord(prompt_id_for(f"Prompt {p}: explain topic {p}."), f"Prompt {p}: explain topic {p}.",
                                m, f"Answer {names.index(m)} to prompt {p}. " * 5)
               for p in range(prompts) for m in names]
    with store.transaction():
        store.generations.insert(records)
    with store.transaction():
        store.generations.set_gate_status(store.generations.ids(), "passed")
    build_queue(store, BuildOptions(overlap=1))
    store.close()


def session(db_path: str, annotator: str, seconds: float, think: float, out: mp.Queue) -> None:
    """One annotator: claim a pair, think, vote — through the app's retry policy — until time is up."""
    result = {"annotator": annotator, "latencies": [], "uids": [], "error": None}
    try:
        from sbs_tui.core.dberrors import retry_busy
        from sbs_tui.core.queue.annotator import AnnotatorQueue, new_vote_uid
        from sbs_tui.tui.annotate.app import APP_BUSY_TIMEOUT_MS  # noqa: F401 - the app module loads no Textual screens here

        store = Store(db_path)
        queue = AnnotatorQueue(store, annotator, gating_required=True)  # as make_app: before the short timeout
        store.set_busy_timeout(APP_BUSY_TIMEOUT_MS)

        def write(fn):
            # The screen retries forever (showing "saving…"); poll as it does, in 0.15 s tries.
            return retry_busy(fn, timeout=3600, first_delay=0.001, max_delay=0.004)

        pair = write(queue.next_pair)
        deadline = time.monotonic() + seconds
        while pair is not None and time.monotonic() < deadline:
            time.sleep(think)
            uid = new_vote_uid()
            started = time.perf_counter()
            write(lambda: queue.vote(pair, "left", ts="2026-12-03T09:00:00Z", uid=uid))
            pair = write(queue.next_pair)
            result["latencies"].append(time.perf_counter() - started)
            result["uids"].append(uid)
        store.close()
    except BaseException as exc:  # reported, counted as a crash
        result["error"] = f"{type(exc).__name__}: {exc}"
    out.put(result)


def run_sessions(db_path: Path, n: int, seconds: float, think: float, *, tag: str,
                 during: subprocess.Popen | None = None) -> dict:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=session, args=(str(db_path), f"{tag}-ann-{i}", seconds, think, out))
             for i in range(n)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for r in results for x in r["latencies"])
    uids = [u for r in results for u in r["uids"]]
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        stored = {u for (u,) in conn.execute(
            "SELECT uid FROM votes WHERE source = 'annotate' AND annotator_id IN "
            "(SELECT id FROM annotators WHERE name LIKE ?)", (f"{tag}-ann-%",))}
    crashes = [r["error"] for r in results if r["error"]]

    def pct(q: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)

    return {
        "sessions": n, "crashes": len(crashes), "crash_messages": crashes[:3], "votes": len(uids),
        "lost": len(set(uids) - stored), "duplicated": len(uids) - len(set(uids)),
        "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
    }


def review_refresh(db_path: str, stop_after: float, out: mp.Queue) -> None:
    """The lead's review app, without the screen: every tab's data loader, once a second."""
    refreshes, error = 0, None
    try:
        from sbs_tui.core.ranking.request import RankRequest
        from sbs_tui.core.views import on_db
        from sbs_tui.core.views.queue import queue_view
        from sbs_tui.core.views.ranking import ranking_view
        from sbs_tui.core.views.review import agreement_view, votes_view

        deadline = time.monotonic() + stop_after
        while time.monotonic() < deadline:
            on_db(db_path, ranking_view, RankRequest(method="bt", ci="sandwich", rounds=1))
            on_db(db_path, agreement_view)
            on_db(db_path, queue_view)
            on_db(db_path, votes_view)
            refreshes += 1
            time.sleep(1.0)
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
    out.put({"refreshes": refreshes, "error": error})


def team(args: argparse.Namespace) -> None:
    sessions, seconds = args.sessions or 32, args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "team.db"
        make_db(db, prompts=args.prompts * 2, models=args.models)
        # Pending generations from two more models: work for the watcher while the team votes.
        store = Store(db)
        extra = [GenerationRecord(prompt_id_for(f"Prompt {p}: explain topic {p}."), f"Prompt {p}: explain topic {p}.",
                                  m, f"Another answer to prompt {p} by {k}. " * 5)
                 for p in range(args.prompts * 2) for k, m in enumerate(("late-model-a", "late-model-b"))]
        with store.transaction():
            store.generations.insert(extra)
        store.close()
        baseline = run_sessions(db, sessions, seconds, args.think, tag="alone")

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        from sbs_tui.core.gates.watcher import watcher_command

        watcher = subprocess.Popen(watcher_command(str(db), interval=1.0), env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        lead = ctx.Process(target=review_refresh, args=(str(db), seconds + 5, out))
        lead.start()
        loaded = run_sessions(db, sessions, seconds, args.think, tag="team")
        review = out.get()
        lead.join()
        watcher_alive = watcher.poll() is None
        watcher.terminate()
        _o, werr = watcher.communicate(timeout=30)
        import sqlite3

        with sqlite3.connect(db) as conn:
            gated = conn.execute("SELECT count(*) FROM generations WHERE gate_status != 'pending'").fetchone()[0]
            over = conn.execute("SELECT count(*) FROM pairs WHERE is_gold = 0 AND votes > overlap").fetchone()[0]
    result = {"baseline_sessions_alone": baseline, "with_watcher_and_review": loaded,
              "watcher": {"alive_throughout": watcher_alive, "generations_settled": gated,
                          "stderr_tail": werr.strip().splitlines()[-1:] if werr.strip() else []},
              "review": review, "pairs_over_overlap": over}
    print(json.dumps(result, indent=2))
    print(f"\n{'':24}{'sessions':>9}{'votes':>8}{'crashes':>8}{'lost':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, r in (("sessions alone", baseline), ("+ watcher + review", loaded)):
        print(f"{name:24}{r['sessions']:>9}{r['votes']:>8}{r['crashes']:>8}{r['lost']:>6}{r['p50_ms']!s:>9}"
              f"{r['p99_ms']!s:>9}{r['max_ms']!s:>9}")
    print(f"review refreshes: {review['refreshes']} (error: {review['error']}); pairs over overlap: {over}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=None, help="annotator sessions (8; 32 with --team)")
    parser.add_argument("--votes", type=int, default=1_000_000, help="votes in the concurrent import")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each session votes")
    parser.add_argument("--think", type=float, default=0.05, help="seconds between a pair appearing and the vote")
    parser.add_argument("--prompts", type=int, default=400)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--team", action="store_true",
                        help="the team variant: 32 sessions with the gate watcher and a refreshing review app")
    args = parser.parse_args()
    if args.team:
        team(args)
        return
    args.sessions = args.sessions or 8

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        db = tmp_path / "bench.db"
        make_db(db, prompts=args.prompts, models=args.models)
        votes_file = tmp_path / "votes.jsonl"
        make_votes(votes_file, args.votes)

        baseline = run_sessions(db, args.sessions, args.seconds, args.think, tag="idle")

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.perf_counter()
        importer = subprocess.Popen([sys.executable, "-m", "sbs_tui", "--db", str(db), "import", "votes",
                                     str(votes_file)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        time.sleep(0.5)  # let the import start writing
        loaded = run_sessions(db, args.sessions, args.seconds, args.think, tag="load", during=importer)
        still_running = importer.poll() is None
        _out, err = importer.communicate()
        import_seconds = time.perf_counter() - started
        import sqlite3

        with sqlite3.connect(db) as conn:
            imported = conn.execute("SELECT count(*) FROM votes WHERE source = ?", (str(votes_file),)).fetchone()[0]

    result = {
        "baseline_no_import": baseline,
        "during_import": loaded,
        "import": {"votes": args.votes, "exit_code": importer.returncode, "stored": imported,
                   "seconds": round(import_seconds, 1), "overlapped_whole_session": still_running,
                   "stderr_tail": err.strip().splitlines()[-1:] if err.strip() else []},
        "p99_ratio_vs_baseline": (round(loaded["p99_ms"] / baseline["p99_ms"], 1)
                                  if loaded["p99_ms"] and baseline["p99_ms"] else None),
    }
    print(json.dumps(result, indent=2))
    print(f"\n{'':24}{'sessions':>9}{'votes':>8}{'crashes':>8}{'lost':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, r in (("no import (baseline)", baseline), (f"during {args.votes:,}-vote import", loaded)):
        print(f"{name:24}{r['sessions']:>9}{r['votes']:>8}{r['crashes']:>8}{r['lost']:>6}{r['p50_ms']!s:>9}"
              f"{r['p99_ms']!s:>9}{r['max_ms']!s:>9}")
    print(f"import: exit {importer.returncode}, {imported:,} of {args.votes:,} stored, {import_seconds:.1f} s"
          f"{' (still running when the sessions ended)' if still_running else ''}")


if __name__ == "__main__":
    main()
