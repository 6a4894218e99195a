"""A large backlog counted into the agreement tallies by numpy (``core/store/tallies_bulk.py``) gives exactly the
tables the SQL path gives, and the raw votes' report (issue 22: the first read after a big import).

The switch is moved down to a few votes (``FLOOR``, ``SHARE`` and the transaction size drawn at random) so that the
random campaigns of ``test_agreement_tallies`` — humans and a judge, ties, weights, unknown sides, undos, flags,
``--replace`` rewrites, reassigned votes, rolled-back imports, renamed annotators and changed kinds — put backlogs
of every size on both sides of it, passes from zero and incremental catch-ups mixed.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbs_tui.core.records import VoteRecord
from sbs_tui.core.store import Store, tallies_bulk
from tests.test_agreement_tallies import MODELS, WINNERS, _apply, _reports, _vm_steps, step, vote

# The agreement tests' steps, with larger batches of votes and more reads: backlogs up to ~60 votes a read.
bulk_step = st.one_of(step, st.tuples(st.just("votes"), st.lists(vote, min_size=10, max_size=60)),
                      st.tuples(st.just("read"), st.none()))

# Every tally table as a recount sees it: items by (prompt, model pair), not by their ids (numbered as counted).
_TABLES = {
    "items": "SELECT prompt_id, x_id, y_id, h0, h1, h2, j0, j1, j2, h_first, j_first FROM agree_items",
    "labels": "SELECT i.prompt_id, i.x_id, i.y_id, l.annotator_id, label, first_id, n, labels_mask, lefts_mask, "
              "l.x_id, l.y_id, p0, p1, p2, p3, p_first FROM agree_labels l JOIN agree_items i ON i.id = l.item_id",
    "pairs": "SELECT * FROM agree_pairs WHERE n != 0",
    "majority": "SELECT * FROM agree_majority WHERE agree != 0 OR seen != 0",
    "annotators": "SELECT * FROM agree_annotators WHERE votes != 0 OR both_orders != 0 OR consistent != 0",
    "position": "SELECT * FROM agree_position",
    "timeline": "SELECT * FROM vote_timeline",
}


def _tables(store: Store) -> dict[str, list[tuple]]:
    return {name: sorted(store.conn.execute(sql).fetchall(), key=repr) for name, sql in _TABLES.items()}


def _by_sql(store: Store, monkeypatch) -> dict[str, list[tuple]]:
    """The tables the SQL path counts from zero (the bulk path switched off)."""
    monkeypatch.setattr(tallies_bulk, "FLOOR", 10**12)
    with store.transaction():
        store.conn.execute("UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'")
    store.tallies.catch_up()
    return _tables(store)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bulk_step, min_size=1, max_size=20), st.integers(0, 40), st.sampled_from([0.0, 0.25, 0.5, 1.0]),
       st.integers(1, 4), st.integers(1, 8))
def test_bulk_counted_tallies_equal_the_sql_path_and_the_raw_votes(steps, floor, share, chunks, chunk) -> None:
    store = Store.memory()
    serial = [0]
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(tallies_bulk, "FLOOR", floor)
        monkeypatch.setattr(tallies_bulk, "SHARE", share)
        monkeypatch.setattr(tallies_bulk, "CHUNKS", chunks)
        try:
            for kind, arg in steps:
                if kind == "read":  # a backlog of any size against the switch: one transaction, a pass, or bulk
                    store.tallies.catch_up(chunk=chunk)
                else:
                    _apply(store, kind, arg, serial)
            store.tallies.catch_up(chunk=chunk)
            if store.votes.annotator_kinds():
                assert _reports(store, True) == _reports(store, False)
            mixed = _tables(store)
            monkeypatch.setattr(tallies_bulk, "FLOOR", 0)  # and every vote again, from zero, all in bulk
            with store.transaction():
                store.conn.execute("UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'")
            store.tallies.catch_up(chunk=chunk)
            in_bulk = _tables(store)
            by_sql = _by_sql(store, monkeypatch)
            assert mixed == by_sql
            assert in_bulk == by_sql
        finally:
            store.close()


def _campaign(n: int) -> list[VoteRecord]:
    people = [(f"h{i}", "human") for i in range(9)] + [("judge", "judge")]
    records = []
    for i in range(n):
        a, b = MODELS[i % 4], MODELS[(i // 4 + 1 + i % 4) % 4]
        if a == b:
            b = MODELS[(MODELS.index(a) + 1) % 4]
        name, kind = people[i * 7 % 10]
        records.append(VoteRecord(f"p{i % 500}", None if i >= 500 else f"prompt {i}", a, b, WINNERS[i * 3 % 4],
                                  name, annotator_kind=kind, shown_left=(None, "model_a", "model_b")[i % 3],
                                  ts=f"2026-01-01T{i // 5000:02d}:00:00Z", uid=f"u{i}"))
    return records


def test_a_large_backlog_is_counted_in_bulk_at_a_fraction_of_the_sql_paths_work(monkeypatch) -> None:
    """30k new votes on 10k counted ones (more than ``SHARE`` of all): the catch-up recounts every vote by numpy
    — far fewer SQLite instructions than the SQL path adding the backlog — and the report is the raw one."""
    records = _campaign(40_000)
    work = {}
    for path in ("sql", "bulk"):
        store = Store.memory()
        with store.transaction():
            store.votes.insert(records[:10_000])
        store.tallies.catch_up()
        with store.transaction():
            store.votes.insert(records[10_000:])
        if path == "sql":
            monkeypatch.setattr(tallies_bulk, "FLOOR", 10**12)
        else:
            monkeypatch.setattr(tallies_bulk, "FLOOR", 20_000)
        counted = []
        work[path] = _vm_steps(store, lambda: counted.append(store.tallies.catch_up()))
        assert counted[0] == (30_000 if path == "sql" else 40_000)  # the bulk path recounted everything
        assert _reports(store, True) == _reports(store, False)
        store.close()
    assert work["bulk"] * 4 <= work["sql"], work


def test_a_small_backlog_and_a_backlog_on_many_counted_votes_stay_on_the_sql_path(monkeypatch) -> None:
    """Below ``FLOOR`` new votes, or when what is counted already outweighs the backlog, the catch-up adds the
    backlog to the tallies as before: nothing is recounted."""
    records = _campaign(30_000)
    monkeypatch.setattr(tallies_bulk, "FLOOR", 5_000)
    store = Store.memory()
    with store.transaction():
        store.votes.insert(records[:24_000])
    assert store.tallies.catch_up() == 24_000  # from zero, in bulk
    with store.transaction():
        store.votes.insert(records[24_000:28_000])  # 4k < FLOOR
    assert store.tallies.catch_up() == 4_000
    with store.transaction():
        store.votes.insert(records[28_000:])  # 2k of 30k < SHARE
    assert store.tallies.catch_up() == 2_000
    assert _reports(store, True) == _reports(store, False)
    store.close()


def test_each_range_of_a_pass_is_followed_by_a_pause_for_waiting_writers(monkeypatch) -> None:
    """A waiting annotator's vote retries the lock every 1–25 ms at first: the catch-up pauses after each range's
    commit (as long as the range took, at most ``GAP_S``) instead of taking the lock again at once — on the bulk
    path and on the SQL path — and nowhere else."""
    pauses: list[float] = []
    monkeypatch.setattr(tallies_bulk.time, "sleep", pauses.append)
    for floor in (0, 10**12):  # bulk, SQL
        monkeypatch.setattr(tallies_bulk, "FLOOR", floor)
        store = Store.memory()
        with store.transaction():
            store.votes.insert(_campaign(600))
        pauses.clear()
        ranges = []
        monkeypatch.setattr(store.tallies.__class__, "_set", _spy(store.tallies.__class__._set, ranges))
        assert store.tallies.catch_up(chunk=100) == 600
        assert len(pauses) == len(ranges) >= 3  # one pause a range of the pass
        assert all(0 < p <= tallies_bulk.GAP_S for p in pauses)
        pauses.clear()
        with store.transaction():
            store.votes.insert(_campaign(650)[600:])
        assert store.tallies.catch_up(chunk=100) == 50 and pauses == []  # one transaction: no pause
        store.close()


def _spy(method, calls: list):
    def wrapped(self, **values):
        if "agreement_watermark" in values or set(values) == {"agreement_cursor"}:  # a range of a pass ends
            calls.append(values)
        return method(self, **values)
    return wrapped


def test_a_pass_sizes_its_ranges_by_time(monkeypatch) -> None:
    """The next range gets more votes when the last one took less than ``TXN_S``, fewer when it took more (at most
    double or half), never fewer than a chunk nor more than ``CHUNKS`` chunks."""
    clock = [0.0]
    monkeypatch.setattr(tallies_bulk.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(tallies_bulk.time, "sleep", lambda s: None)
    pace = tallies_bulk.Pace()
    assert pace.votes(10_000, 80_000) == 10_000  # the first range: one chunk
    for took, expected in ((tallies_bulk.TXN_S / 4, 20_000), (tallies_bulk.TXN_S / 2, 40_000),
                           (tallies_bulk.TXN_S / 4, 80_000), (tallies_bulk.TXN_S / 4, 80_000),
                           (tallies_bulk.TXN_S * 3, 40_000), (tallies_bulk.TXN_S * 10, 20_000),
                           (tallies_bulk.TXN_S * 10, 10_000)):
        votes = pace.votes(10_000, 80_000)
        clock[0] = 0.0
        pace.begin()
        pace.ranged(votes)
        clock[0] = took
        pace.gap()
        assert pace.votes(10_000, 80_000) == expected, (took, expected)
