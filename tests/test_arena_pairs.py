"""The arena's pair balancing over the whole campaign (issue 23): the draw counts the votes and the ledger's
battles without a vote of every session and annotator, in the transaction that records the new battle, read
from one index range."""

from __future__ import annotations

import random
from pathlib import Path

from sbs_tui.config import load_settings
from sbs_tui.core.generate import arena, arena_ledger
from sbs_tui.core.store import Store
from tests.test_arena import config


def arena_config(tmp_path: Path, names: list[str]) -> arena.ArenaConfig:
    path = config(tmp_path, {n: ("http://127.0.0.1:9/v1", f"org/{n}") for n in names},
                  "battles_per_minute = 1000\n")
    return arena.load_arena(load_settings(path))


def test_battles_without_a_vote_from_other_sessions_and_annotators_count(tmp_path: Path) -> None:
    """A pair gated in one session, failed in another, and one still streaming elsewhere all weigh on the next
    draw in a third session; a voted battle counts once (by its vote)."""
    db = tmp_path / "p.db"
    cfg = arena_config(tmp_path, ["x", "y", "z"])
    first, second, third = Store(db), Store(db), Store(db)
    gated = arena.new_battle("p", "x", "y")
    arena_ledger.begin(first, gated, "ann", cfg)
    gated.a.status, gated.b.status = "blocked", "done"
    arena_ledger.finish(first, gated, {s.name: s for s in cfg.models})
    failed = arena.new_battle("q", "y", "x")
    arena_ledger.begin(second, failed, "bob", cfg)
    failed.a.status = failed.b.status = "failed"
    arena_ledger.finish(second, failed, {s.name: s for s in cfg.models})
    arena_ledger.begin(second, arena.new_battle("r", "x", "z"), "bob", cfg)  # still running
    voted = arena.new_battle("s", "z", "y")
    arena_ledger.begin(first, voted, "ann", cfg)
    voted.a.status = voted.b.status = "done"
    arena_ledger.finish(first, voted, {s.name: s for s in cfg.models})
    arena.store_vote(first, voted, "a", "ann")

    counts = arena.battle_counts(third, ["x", "y", "z"])
    assert counts == {frozenset("xy"): 2, frozenset("xz"): 1, frozenset("yz"): 1}
    drawn = {frozenset(arena.draw_pair(counts, random.Random(seed))) for seed in range(40)}
    assert drawn == {frozenset("xz"), frozenset("yz")}  # never the pair two sessions already had
    for store in (first, second, third):
        store.close()


def test_two_sessions_starting_at_once_draw_different_pairs(tmp_path: Path) -> None:
    """The draw and the ledger record share one transaction: the second session sees the first one's battle
    while it is still streaming, and with three models every pair is drawn once before any twice."""
    db = tmp_path / "p.db"
    cfg = arena_config(tmp_path, ["x", "y", "z"])
    sessions = [Store(db), Store(db), Store(db)]
    pairs = [arena_ledger.draw_and_begin(s, "hi", ["x", "y", "z"], f"ann{k}", cfg, random.Random(0)).pair
             for k, s in enumerate(sessions)]
    assert len(set(pairs)) == 3
    for store in sessions:
        store.close()


def test_the_unvoted_count_reads_one_index_range(tmp_path: Path) -> None:
    """The store's own query (caught as it runs) is one covering-index range, not a scan of every battle."""
    store = Store(tmp_path / "p.db")
    ran: list[str] = []
    store.conn.set_trace_callback(ran.append)
    store.arena.unvoted_pairs()
    store.conn.set_trace_callback(None)
    (query,) = [q for q in ran if "arena_battles" in q]
    plan = " ".join(str(r[-1]) for r in store.conn.execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "USING COVERING INDEX idx_arena_battles_unvoted" in plan, plan
    store.close()
