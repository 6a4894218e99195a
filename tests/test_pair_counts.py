"""The outcome counts the store keeps as votes land (``store.pair_counts``, issue 22) are the votes' own counts,
whatever happened to the votes: app votes, imports that commit, imports rolled back, an import still running
beside other writers (its votes uncounted until it commits), a row claimed by a second import, undo, an edited
vote. After every step, for every voter class and flag filter, the kept cells equal the cells counted from the
votes, and a Bradley-Terry fit from either is the same to 1e-12."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbs_tui.core.ranking.api import run_ranking
from sbs_tui.core.ranking.btrank import rank_bt
from sbs_tui.core.ranking.outcomes import Outcomes
from sbs_tui.core.ranking.request import RankRequest
from sbs_tui.core.records import VoteRecord, prompt_id_for
from sbs_tui.core.store import Store
from sbs_tui.core.store.pair_counts import KINDS

MODELS = ("m0", "m1", "m2", "m3")
ANNOTATORS = (("h0", "human"), ("h1", "human"), ("j0", "judge"))


def _vote(draw_tuple: tuple[int, int, int, int, int, bool, int]) -> VoteRecord:
    a, b, win, ann, prompt, flagged, salt = draw_tuple
    name, kind = ANNOTATORS[ann]
    model_a, model_b = MODELS[a], MODELS[(a + 1 + b) % len(MODELS)]
    winner = ("model_a", "model_b", "tie", "both_bad")[win]
    return VoteRecord(prompt_id_for(f"p{prompt}"), f"p{prompt}", model_a, model_b, winner, name,
                      annotator_kind=kind, flagged=flagged, meta={"salt": salt})


votes_st = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 3), st.integers(0, 2),
                              st.integers(0, 3), st.booleans(), st.integers(0, 5)).map(_vote), min_size=1, max_size=12)
ops_st = st.lists(st.one_of(
    st.tuples(st.just("app"), votes_st),
    st.tuples(st.just("import"), votes_st, st.booleans()),  # a whole import: commits (True) or rolls back
    st.tuples(st.just("begin"), votes_st),  # an import on a second connection that stays running …
    st.tuples(st.just("end"), st.booleans()),  # … until it commits or rolls back
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("edit"), st.integers(0, 10**6), st.integers(0, 3), st.booleans()),
), min_size=1, max_size=10)


def _raw(store: Store, kinds: tuple[str, ...] | None, flagged: bool) -> tuple[list[str], list[tuple]]:
    names = [n for n, k in store.votes.annotator_kinds().items() if kinds is None or k in kinds]
    if kinds is not None and not names:
        return [], []
    return store.votes.outcomes(annotators=names if kinds is not None else None, include_flagged=flagged)


def assert_same(store: Store, *, fit: bool = False) -> None:
    for kinds in KINDS.values():
        for flagged in (False, True):
            names, raw = _raw(store, kinds, flagged)
            kept_names, kept = store.pair_counts.outcomes(kinds=kinds, include_flagged=flagged)
            assert kept_names == names
            assert sorted(kept) == sorted(raw)
            if raw and fit:
                a, b = Outcomes.from_rows(names, raw), Outcomes.from_rows(kept_names, kept)
                fit_a, fit_b = rank_bt(a, ci="sandwich"), rank_bt(b, ci="sandwich")
                for x, y in zip(fit_a.models, fit_b.models, strict=True):
                    assert x.model == y.model
                    assert abs(x.rating - y.rating) <= 1e-12


def _edit(store: Store, pick: int, win: int, flagged: bool) -> None:
    ids = [r[0] for r in store.conn.execute("SELECT id FROM votes ORDER BY id")]
    if not ids:
        return
    winner = ("model_a", "model_b", "tie", "both_bad")[win]
    score = {"model_a": 0.0, "model_b": 1.0}.get(winner, 0.5)
    with store.transaction():  # as `sbs import votes --replace` rewrites a vote in place
        store.conn.execute("UPDATE votes SET winner = ?, score_b = ?, flagged = ? WHERE id = ?",
                           (winner, score, int(flagged), ids[pick % len(ids)]))


def _delete(store: Store, pick: int) -> None:
    ids = [r[0] for r in store.conn.execute("SELECT id FROM votes ORDER BY id")]
    if ids:
        with store.transaction():  # as the annotator app's undo deletes a vote
            store.conn.execute("DELETE FROM votes WHERE id = ?", (ids[pick % len(ids)],))


def _import(store: Store, votes: list[VoteRecord], commit: bool) -> None:
    run = store.imports.begin("votes", "test")
    with store.imports.batch(run):
        store.votes.import_rows([v.as_row() for v in votes])
    if commit:
        store.imports.finish(run)
    else:
        store.imports.roll_back(run)


def run_ops(path: Path, ops: list[tuple]) -> None:
    with Store(path) as store, Store(path) as other:
        running: int | None = None
        for op in ops:
            kind = op[0]
            if kind == "app":
                with store.transaction():
                    store.votes.insert(op[1])
            elif kind == "import":
                _import(store, op[1], op[2])
            elif kind == "begin" and running is None:
                running = other.imports.begin("votes", "beside")
                with other.imports.batch(running):
                    other.votes.import_rows([v.as_row() for v in op[1]])
            elif kind == "end" and running is not None:
                (other.imports.finish if op[1] else other.imports.roll_back)(running)
                running = None
            elif kind == "delete":
                _delete(store, op[1])
            elif kind == "edit":
                _edit(store, *op[1:])
            assert_same(store)
            assert store.pair_counts.check() == []  # every bucket, a running import's included
        if running is not None:
            other.imports.finish(running)
        assert_same(store, fit=True)
        assert store.pair_counts.check() == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops_st)
def test_kept_counts_equal_the_votes_counts(ops: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_ops(Path(tmp) / "db.sqlite", ops)


def test_an_import_is_counted_only_once_it_commits(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    with Store(db) as store, Store(db) as other:
        with store.transaction():
            store.votes.insert([_vote((0, 0, 0, 0, 0, False, 0))])
        run = other.imports.begin("votes", "beside")
        with other.imports.batch(run):
            other.votes.import_rows([_vote((1, 0, 1, 1, 1, False, k)).as_row() for k in range(5)])
        assert store.pair_counts.outcomes()[1] == [(0, 1, 0.0, 1)]
        other.imports.finish(run)
        names, rows = store.pair_counts.outcomes()
        assert names == ["m0", "m1", "m2"] and sorted(rows) == [(0, 1, 0.0, 1), (1, 2, 1.0, 5)]


def test_rank_reads_the_kept_counts_and_prints_the_same_ranking(tmp_path: Path) -> None:
    """``sbs rank``'s document from the kept counts is the one from the votes, byte for byte; with
    ``--annotator`` (which reads the votes) it is the same too when that annotator is everyone."""
    db = tmp_path / "db.sqlite"
    rng = np.random.default_rng(3)
    votes = [_vote((int(rng.integers(4)), int(rng.integers(3)), int(rng.integers(4)), 0, int(rng.integers(4)),
                    False, k)) for k in range(300)]
    with Store(db) as store:
        with store.transaction():
            store.votes.insert(votes)
        kept = run_ranking(store, RankRequest(ci="bootstrap", rounds=50)).to_json()
        store.conn.execute("DELETE FROM pair_counts")  # were the counts not read, the ranking would not change
        assert run_ranking(store, RankRequest(ci="bootstrap", rounds=50)).info["votes"] == 0
        store.pair_counts.rebuild()
        raw = run_ranking(store, RankRequest(ci="bootstrap", rounds=50, annotators=["h0"])).to_json()
    for doc in (kept, raw):
        doc.pop("filters", None)
        doc.pop("voters", None)
    assert json.dumps(kept, sort_keys=True) == json.dumps(raw, sort_keys=True)


def test_an_older_database_gets_its_counts_when_opened(tmp_path: Path) -> None:
    """A database written before the kept counts (votes, one import still running) is counted by the migration."""
    import sqlite3

    db = tmp_path / "db.sqlite"
    with Store(db) as store:
        with store.transaction():
            store.votes.insert([_vote((a % 4, a % 3, a % 4, a % 3, 0, a % 5 == 0, a)) for a in range(40)])
        run = store.imports.begin("votes", "still running")
        with store.imports.batch(run):
            store.votes.import_rows([_vote((1, 1, 1, 0, 1, False, 100 + k)).as_row() for k in range(3)])
    with sqlite3.connect(db) as conn:
        conn.executescript("DROP TABLE pair_counts; DROP TRIGGER pair_counts_insert; DROP TRIGGER pair_counts_delete; "
                           "DROP TRIGGER pair_counts_update; DELETE FROM _migrations WHERE name LIKE '%pair_counts';")
    with Store(db) as store:
        assert store.pair_counts.check() == []
        assert_same(store, fit=True)
