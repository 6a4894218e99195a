"""Issue 22, the import at scale: what the vote import costs per vote in memory and in index pages.

* The parser's count of rows identical to an earlier row holds 8 bytes a row (a flat array of 64-bit keys,
  sorted once per file), not a Python set of them (~69 bytes a row: ~700 MB at 10M votes) — and counts the same.
* The votes table no longer carries the six-column covering outcome index (each vote dirtied a page of it of its
  own); the filtered rankings keep their plans, and the flagged count reads the kept ``pair_counts``.
"""

from __future__ import annotations

import json
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np  # noqa: F401 - imported before tracemalloc starts: its own allocations are not the parser's
from hypothesis import given, settings
from hypothesis import strategies as st

from sbs_tui.core.ingest.importer import ParseTally, _IdenticalCount, _row_batches_inline
from sbs_tui.core.records import VoteRecord, prompt_id_for
from sbs_tui.core.store import Store
from sbs_tui.core.store.imports import committed


def _write_votes(path: Path, n: int, repeat_every: int = 0) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            k = i - 1 if repeat_every and i % repeat_every == 0 and i else i
            fh.write(json.dumps({"prompt": f"prompt {k % 97}", "model_a": "m1", "model_b": "m2", "winner": "a",
                                 "annotator": f"ann-{k}"}) + "\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 20), max_size=300))
def test_identical_count_is_rows_less_distinct_keys(keys: list[int]) -> None:
    """The count is what the set-based count gave: each row whose key an earlier row of the file had (both the
    small-file count and the sort of a large file's keys)."""
    _check_count(keys)
    import sbs_tui.core.ingest.importer as importer

    small = importer._SET_COUNT_MAX
    importer._SET_COUNT_MAX = 0
    try:
        _check_count(keys)
    finally:
        importer._SET_COUNT_MAX = small


def _check_count(keys: list[int]) -> None:
    tally = ParseTally()
    counter = _IdenticalCount(tally)
    for key in keys:
        counter.keys.append(key)
    counter.finish()
    seen: set[int] = set()
    expected = 0
    for key in keys:
        expected += key in seen
        seen.add(key)
    assert tally.identical == expected
    assert len(counter.keys) == 0  # a second file starts afresh


def test_identical_rows_are_counted_per_file_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "votes.jsonl"
    _write_votes(path, 25_000, repeat_every=1_000)  # repeats on both sides of the 10,000-row batch boundaries
    tally = ParseTally()
    rows = sum(len(batch) for batch in _row_batches_inline(path, "votes", tally, None))
    assert rows == 25_000 and tally.identical == 24
    again = ParseTally()
    for _ in range(2):  # the same file twice in one import: each file counts its own repeats
        for _batch in _row_batches_inline(path, "votes", again, None):
            pass
    assert again.identical == 48


def _held_after(path: Path, batches: int) -> int:
    """Memory the parser holds, suspended after handing over ``batches`` batches (it holds one batch then)."""
    tracemalloc.start()
    parse = _row_batches_inline(path, "votes", ParseTally(), None)
    try:
        for _ in range(batches):
            batch = next(parse)
            del batch
        return tracemalloc.get_traced_memory()[0]
    finally:
        parse.close()
        tracemalloc.stop()


def test_the_parser_holds_a_few_bytes_per_vote(tmp_path: Path) -> None:
    """Five batches (50,000 content-identified votes) further into a file, the parser holds no more than the
    keys of the identical count: ≤ 16 bytes a vote (8 in the array, plus its growth margin). The set of keys it
    replaced held ~69 bytes a vote (~700 MB at 10M votes)."""
    path = tmp_path / "votes.jsonl"
    _write_votes(path, 70_000)
    _held_after(path, 1)  # warm: what the first parse caches (the JSON encoder, interned names) is not per vote
    grown = _held_after(path, 6) - _held_after(path, 1)
    assert grown <= 16 * 50_000, f"{grown / 50_000:.1f} bytes per vote"


def _vote(i: int, *, flagged: bool = False) -> VoteRecord:
    return VoteRecord(prompt_id_for(f"p{i % 3}"), f"p{i % 3}", "m1", "m2", "model_a", f"ann{i % 2}",
                      flagged=flagged, meta={"i": i})


def test_votes_carry_no_covering_outcome_index_and_filters_keep_their_plans(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        indexes = {r[1] for r in store.conn.execute("PRAGMA index_list(votes)")}
        assert "idx_votes_visible_outcomes" not in indexes
        assert {"idx_votes_annotator", "idx_votes_item"} <= indexes
        base = ("SELECT model_a_id, model_b_id, score_b, count(*) FROM votes v WHERE " + committed("v") + " AND {} "
                "AND v.flagged = 0 GROUP BY model_a_id, model_b_id, score_b")
        by_annotator = "v.annotator_id IN (SELECT id FROM annotators WHERE name IN (?))"
        by_category = "v.prompt_id IN (SELECT id FROM prompts WHERE category = ?)"
        for clause, index in ((by_annotator, "idx_votes_annotator"), (by_category, "idx_votes_item")):
            plan = " ".join(r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN " + base.format(clause), ["x"]))
            assert f"SEARCH v USING INDEX {index}" in plan


def test_flagged_count_reads_the_kept_counts_and_skips_a_running_import(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store(db) as store, Store(db) as other:
        with store.transaction():
            store.votes.insert([_vote(i, flagged=i % 3 == 0) for i in range(10)])  # 4 flagged
        run = other.imports.begin("votes", "beside")
        with other.imports.batch(run):
            other.votes.import_rows([_vote(100 + i, flagged=True).as_row() for i in range(5)])
        raw = store.conn.execute(f"SELECT count(*) FROM votes v WHERE flagged = 1 AND {committed('v')}").fetchone()[0]
        assert store.votes.flagged_count() == raw == 4
        other.imports.finish(run)
        assert store.votes.flagged_count() == 9
        store.conn.execute("DELETE FROM pair_counts")  # were the counts not read, the number would not change
        assert store.votes.flagged_count() == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.booleans()), min_size=1, max_size=20), st.integers(0, 5))
def test_flagged_count_equals_the_votes_after_undo(votes: list[tuple[int, bool]], gone: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.db") as store:
        with store.transaction():
            store.votes.insert([_vote(i, flagged=f) for i, f in votes])
        with store.transaction():  # as the annotator app's undo deletes votes
            store.conn.execute("DELETE FROM votes WHERE id IN (SELECT id FROM votes ORDER BY id DESC LIMIT ?)",
                               (gone,))
        raw = store.conn.execute("SELECT count(*) FROM votes WHERE flagged = 1").fetchone()[0]
        assert store.votes.flagged_count() == raw
