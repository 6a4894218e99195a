"""Agreement from the tallies the store keeps equals agreement from the raw votes, exactly (issue 22).

Random campaigns (humans and a judge, weighted and tied verdicts, known and unknown left sides, repeats in both
orders) are built step by step, with the tallies catching up between steps, votes undone, flagged and rewritten,
and imports rolled back — then every voters scope's report from the tallies must be the raw votes' report, digit
for digit. Each of these steps, done wrong (a first label taken from the wrong vote, a rebuild missed after an
undo, a rolled-back import counted), shows up as a difference here.
"""

from __future__ import annotations

import dataclasses
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbs_tui.core.analysis.agreement import analyse_store
from sbs_tui.core.records import VoteRecord
from sbs_tui.core.store import Store, tallies_bulk
from sbs_tui.errors import InputError

PEOPLE = [("ann", "human"), ("bob", "human"), ("cy", "human"), ("dee", "human"), ("gpt-judge", "judge")]
MODELS = ["m-a", "m-b", "zeta", "Alpha"]
WINNERS = ["model_a", "model_b", "tie", "both_bad"]

vote = st.tuples(st.integers(0, 3), st.sampled_from(MODELS), st.sampled_from(MODELS), st.sampled_from(WINNERS),
                 st.integers(0, len(PEOPLE) - 1), st.sampled_from([None, "model_a", "model_b"]),
                 st.sampled_from([1.0, 1.0, 0.75]))
change = st.tuples(st.sampled_from(["undo", "flag", "rewrite", "replace", "reassign"]), st.integers(0, 10_000),
                   vote)
step = st.one_of(
    st.tuples(st.just("votes"), st.lists(vote, min_size=1, max_size=25)),
    st.tuples(st.just("read"), st.none()),
    st.tuples(st.just("undo"), st.integers(0, 10_000)),
    st.tuples(st.just("flag"), st.integers(0, 10_000)),
    st.tuples(st.just("rewrite"), st.integers(0, 10_000)),
    st.tuples(st.just("rolled_back_import"), st.lists(vote, min_size=1, max_size=10)),
    # many undos, flags, --replace rewrites (other prompt, models, winner, left side) and annotator changes
    # between two reads: each dirties items that the next read must re-derive exactly
    st.tuples(st.just("changes"), st.lists(change, min_size=1, max_size=15)),
    st.tuples(st.just("rename"), st.integers(0, len(PEOPLE) - 1)),
    st.tuples(st.just("kind"), st.integers(0, len(PEOPLE) - 1)),
    # a model's new name sorts elsewhere: the items of the pairs whose order flips are relabelled
    st.tuples(st.just("model_rename"), st.tuples(st.integers(0, 10), st.sampled_from(["0", "n", "~", "A", "m-b"]))),
)


def _records(rows, serial: list[int]) -> list[VoteRecord]:
    out = []
    for prompt, a, b, winner, who, left, weight in rows:
        if a == b:
            continue
        serial[0] += 1
        name, kind = PEOPLE[who]
        out.append(VoteRecord(f"p{prompt}", f"prompt {prompt}", a, b, winner, name, annotator_kind=kind,
                              shown_left=left, weight=weight if winner in ("model_a", "model_b") else 1.0,
                              uid=f"v{serial[0]}"))
    return out


def _pick(store: Store, n: int) -> int | None:
    ids = [r[0] for r in store.conn.execute("SELECT id FROM votes ORDER BY id")]
    return ids[n % len(ids)] if ids else None


def _apply(store: Store, kind: str, arg, serial: list[int]) -> None:
    if kind == "votes":
        with store.transaction():
            store.votes.insert(_records(arg, serial))
    elif kind == "read":
        store.tallies.catch_up(chunk=7)  # small chunks: the prompt-range passes run too
    elif kind == "rolled_back_import":
        run = store.imports.begin("votes", "test")
        with store.imports.batch(run):
            store.votes.insert(_records(arg, serial))
        store.tallies.catch_up()  # must not count the running import
        store.imports.roll_back(run)
    elif kind == "changes":
        for what, n, new in arg:
            _change(store, what, n, new, serial)
    elif kind == "model_rename":
        _rename_model(store, *arg)
    elif kind in ("rename", "kind"):
        name, was = PEOPLE[arg]
        with store.transaction():
            if kind == "rename":  # not in the tallies (they key ids): recounts nothing
                store.conn.execute("UPDATE annotators SET name = name || '-x' WHERE name LIKE ? || '%'", (name,))
            else:  # the next read relabels this annotator's items (tallies_relabel.py)
                store.conn.execute("UPDATE annotators SET kind = CASE kind WHEN 'human' THEN 'judge' ELSE 'human' "
                                   "END WHERE name LIKE ? || '%'", (name,))
    else:
        _change(store, kind, arg, None, serial)


def _rename_model(store: Store, n: int, prefix: str) -> None:
    """Model ``n`` (of those stored) takes a new name that sorts before, between or after the others, or back
    its name of origin (``m-b``, when free); later votes may bring the old name back as a new model."""
    ids = [r[0] for r in store.conn.execute("SELECT id FROM models ORDER BY id")]
    if not ids:
        return
    model = ids[n % len(ids)]
    name = prefix if prefix == "m-b" else f"{prefix}-{model}"
    with store.transaction():
        store.conn.execute("UPDATE models SET name = ? WHERE id = ? AND NOT EXISTS (SELECT 1 FROM models "
                           "WHERE name = ?)", (name, model, name))


def _change(store: Store, kind: str, n: int, new, serial: list[int]) -> None:
    """One change to a stored vote (counted or not yet): undo, flag toggle, winner swapped, ``--replace`` with
    ``new``'s content, or the vote given to another annotator."""
    if (vote_id := _pick(store, n)) is None:
        return
    with store.transaction():
        if kind == "undo":
            store.conn.execute("DELETE FROM votes WHERE id = ?", (vote_id,))
        elif kind == "flag":
            store.conn.execute("UPDATE votes SET flagged = 1 - flagged WHERE id = ?", (vote_id,))
        elif kind == "rewrite":
            store.conn.execute("UPDATE votes SET score_b = 1.0 - score_b, winner = CASE winner WHEN 'model_a' "
                               "THEN 'model_b' WHEN 'model_b' THEN 'model_a' ELSE winner END WHERE id = ?",
                               (vote_id,))
        elif kind == "reassign":
            store.conn.execute("UPDATE votes SET annotator_id = (SELECT min(id) FROM annotators WHERE id > "
                               "votes.annotator_id) WHERE id = ? AND annotator_id < (SELECT max(id) FROM annotators)",
                               (vote_id,))
        else:
            uid = store.conn.execute("SELECT uid FROM votes WHERE id = ?", (vote_id,)).fetchone()[0]
            records = _records([new], serial)
            if records:
                store.votes.import_rows([dataclasses.replace(records[0], uid=uid).as_row()], replace=True)


def _reports(store: Store, use_tallies: bool) -> list[str]:
    out = []
    for voters in ("all", "humans", "judges", "auto"):
        try:
            out.append(json.dumps(analyse_store(store, voters=voters, use_tallies=use_tallies).to_json()))
        except InputError as exc:  # no such voters in this campaign: the same error either way
            out.append(str(exc))
    return out


# The kept tables, rows that count nothing left out, items named by (prompt, x, y) rather than their row ids.
_STATE = {
    "items": "SELECT prompt_id, x_id, y_id, h0, h1, h2, j0, j1, j2, h_first, j_first FROM agree_items "
             "WHERE h0 + h1 + h2 + j0 + j1 + j2 > 0",
    "labels": "SELECT i.prompt_id, i.x_id, i.y_id, l.annotator_id, l.label, l.first_id, l.n, l.labels_mask, "
              "l.lefts_mask, l.x_id, l.y_id, l.p0, l.p1, l.p2, l.p3, l.p_first FROM agree_labels l "
              "JOIN agree_items i ON i.id = l.item_id",
    "annotators": "SELECT * FROM agree_annotators WHERE votes OR both_orders OR consistent",
    "pairs": "SELECT * FROM agree_pairs WHERE n",
    "majority": "SELECT * FROM agree_majority WHERE agree OR seen",
    "position": "SELECT * FROM agree_position WHERE c0 + c1 + c2 + c3 > 0",
    "timeline": "SELECT * FROM vote_timeline WHERE n",
}


def _tally_state(store: Store) -> dict[str, list[tuple]]:
    return {name: sorted(store.conn.execute(sql).fetchall(), key=repr) for name, sql in _STATE.items()}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=16))
def test_tallied_agreement_equals_agreement_from_raw_votes(steps) -> None:
    """The reports agree, and so do the kept tables themselves with the tables a count from zero makes (a part a
    report does not show — a position cell, a left-sides mask, a majority row of another scope — would go wrong
    silently at a later change otherwise)."""
    _run_and_check(steps)


def _run_and_check(steps) -> None:
    store = Store.memory()
    serial = [0]
    try:
        for kind, arg in steps:
            _apply(store, kind, arg, serial)
        if store.votes.annotator_kinds():
            assert _reports(store, True) == _reports(store, False)
        store.tallies.catch_up()
        kept = _tally_state(store)
        with store.transaction():
            store.conn.execute("UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'")
        store.tallies.catch_up()
        assert kept == _tally_state(store)
    finally:
        store.close()


relabel_step = st.one_of(
    st.tuples(st.just("votes"), st.lists(vote, min_size=1, max_size=25)),
    st.tuples(st.just("read"), st.none()),
    st.tuples(st.just("changes"), st.lists(change, min_size=1, max_size=5)),
    st.tuples(st.just("model_rename"), st.tuples(st.integers(0, 10), st.sampled_from(["0", "n", "~", "A", "m-b"]))),
    st.tuples(st.just("kind"), st.integers(0, len(PEOPLE) - 1)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(vote, min_size=10, max_size=40), st.lists(relabel_step, min_size=2, max_size=12))
def test_tallies_through_model_renames_and_kind_changes_equal_a_count_from_zero(first, steps) -> None:
    """Counted votes first, then renames that move models past each other and kind changes, mixed with new
    votes, undos and reads: the relabelled tallies (``tallies_relabel.py``) are the tables a count from zero
    makes, and the reports the raw votes' reports."""
    _run_and_check([("votes", first), ("read", None), *steps])


def test_tallies_catch_up_only_new_votes_and_recount_only_the_items_a_change_touches() -> None:
    """The watermark moves with the votes counted; an undo of a counted vote makes the next read recount its item
    (its votes, not every vote); a model's new name (the items' order) or an annotator's new kind recounts no
    vote: the items they touch are relabelled."""
    store = Store.memory()
    serial = [0]
    rows = [(i % 3, "m-a", "m-b", WINNERS[i % 4], i % 5, "model_a", 1.0) for i in range(40)]
    with store.transaction():
        store.votes.insert(_records(rows, serial))
    assert store.tallies.catch_up() == 40
    assert store.tallies.catch_up() == 0  # nothing new: nothing counted
    with store.transaction():
        store.votes.insert(_records(rows[:5], serial))
    assert store.tallies.catch_up() == 5
    with store.transaction():
        store.conn.execute("DELETE FROM votes WHERE id = 3")  # prompt 2: 14 votes on its item, 13 left
    assert store.tallies.catch_up() == 13
    assert _reports(store, True) == _reports(store, False)
    with store.transaction():
        store.conn.execute("UPDATE models SET name = 'a-first' WHERE name = 'm-b'")
    assert store.tallies.catch_up() == 0  # the items of m-a vs m-b swap sides: no vote is read again
    assert _reports(store, True) == _reports(store, False)
    with store.transaction():
        store.conn.execute("UPDATE annotators SET kind = 'judge' WHERE name = 'bob'")
    assert store.tallies.catch_up() == 0
    assert _reports(store, True) == _reports(store, False)
    store.close()


def _vm_steps(store: Store, fn) -> int:
    """SQLite virtual-machine instructions ``fn`` runs (in thousands): the rows it reads and writes, without
    a clock's noise."""
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    store.conn.set_progress_handler(tick, 1000)
    try:
        fn()
    finally:
        store.conn.set_progress_handler(None, 0)
    return steps[0]


def test_one_undo_on_50k_votes_re_derives_its_item_not_the_database() -> None:
    """After one undo (a flag, a rewrite) on 50k counted votes the next catch-up reads the changed vote's item:
    at least 20× less work than counting from zero (SQLite instructions; the time follows), and the report
    stays the raw votes' report."""
    store = Store.memory()
    people = [(f"h{i}", "human") for i in range(9)] + [("judge", "judge")]
    records = []
    for i in range(50_000):
        a, b = MODELS[i % 4], MODELS[(i // 4 + 1 + i % 4) % 4]
        if a == b:
            b = MODELS[(MODELS.index(a) + 1) % 4]
        name, kind = people[i * 7 % 10]
        records.append(VoteRecord(f"p{i % 500}", None if i >= 500 else f"prompt {i}", a, b, WINNERS[i * 3 % 4],
                                  name, annotator_kind=kind, shown_left=(None, "model_a", "model_b")[i % 3],
                                  ts=f"2026-01-01T{i // 5000:02d}:00:00Z", uid=f"u{i}"))
    with store.transaction():
        store.votes.insert(records)
    assert store.tallies.catch_up() == 50_000
    changes = ["DELETE FROM votes WHERE id = 25000", "UPDATE votes SET flagged = 1 WHERE id = 30001",
               "UPDATE votes SET score_b = 1.0 - score_b WHERE id = 12345"]
    for sql in changes:
        with store.transaction():
            store.conn.execute(sql)
        votes_read = []
        after_undo = _vm_steps(store, lambda: votes_read.append(store.tallies.catch_up()))
        assert votes_read[0] <= 200  # the item's votes (one prompt's share of one model pair)
        with store.transaction():  # what every undo used to cost: a recount from zero
            store.conn.execute("UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'")
        from_zero = _vm_steps(store, store.tallies.catch_up)
        assert after_undo * 20 <= from_zero, (after_undo, from_zero)
    assert _reports(store, True) == _reports(store, False)
    store.close()


def test_a_model_rename_or_a_kind_change_on_50k_votes_relabels_items_not_the_database(monkeypatch) -> None:
    """A model's name that moves it past most others in name order, and an annotator turned judge, cost the next
    catch-up the items they touch (here about a tenth: the work follows that share; it was a recount from zero),
    at least 5× less work than counting from zero by SQL (SQLite instructions, as above; the numpy recount of
    ``tallies_bulk`` is kept off here because its work is mostly outside SQLite and would not be counted), no vote
    read again, and the report stays the raw votes' report."""
    monkeypatch.setattr(tallies_bulk, "FLOOR", 10**12)
    store = Store.memory()
    models = [f"model-{k}" for k in range(12)]
    people = [(f"h{i}", "human") for i in range(9)] + [("judge", "judge")]
    records = []
    for i in range(50_000):
        a, b = models[i % 12], models[(i + 1 + i // 12 % 11) % 12]
        name, kind = people[i * 7 % 10]
        records.append(VoteRecord(f"p{i % 2000}", None if i >= 2000 else f"prompt {i}", a, b, WINNERS[i * 3 % 4],
                                  name, annotator_kind=kind, shown_left=(None, "model_a", "model_b")[i % 3],
                                  uid=f"u{i}"))
    with store.transaction():
        store.votes.insert(records)
    assert store.tallies.catch_up() == 50_000
    changes = ["UPDATE models SET name = 'zz-renamed' WHERE name = 'model-3'",  # sorts after the others now
               "UPDATE annotators SET kind = 'judge' WHERE name = 'h4'"]
    for sql in changes:
        with store.transaction():
            store.conn.execute(sql)
        votes_read: list[int] = []
        relabel = _vm_steps(store, lambda: votes_read.append(store.tallies.catch_up()))
        assert votes_read == [0]
        assert _reports(store, True) == _reports(store, False)
        with store.transaction():  # what a rename or a kind change used to cost: a recount from zero
            store.conn.execute("UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'")
        from_zero = _vm_steps(store, store.tallies.catch_up)
        assert relabel * 5 <= from_zero, (relabel, from_zero)
    store.close()


def test_plots_from_the_hourly_tallies_match_the_raw_votes(monkeypatch) -> None:
    """Beyond EXACT_CONVERGENCE_VOTES the plots read the hourly tallies: the pace is the raw votes' pace exactly
    (flagged votes included, as before), the convergence ends on the fit of every vote, its checkpoints on the
    ends of hours."""
    from sbs_tui.core.analysis import plots

    store = Store.memory()
    records = []
    for i in range(400):
        a, b = MODELS[i % 3], MODELS[(i + 1) % 3]
        records.append(VoteRecord(f"p{i % 7}", f"prompt {i % 7}", a, b, WINNERS[i % 4], PEOPLE[i % 4][0],
                                  ts=f"2026-01-0{1 + i // 200}T{10 + i // 40 % 5:02d}:{i % 60:02d}:00Z",
                                  flagged=i % 50 == 0, uid=f"t{i}"))
    with store.transaction():
        store.votes.insert(records)
    exact = plots.collect_plot_data(store, voters="all")
    monkeypatch.setattr(plots, "EXACT_CONVERGENCE_VOTES", 0)
    hourly = plots.collect_plot_data(store, voters="all")
    assert hourly.activity == store.review.votes_per_day() == exact.activity
    checkpoints, series = hourly.convergence
    assert checkpoints[-1] == exact.convergence[0][-1] == hourly.votes
    hours = sorted({r.ts[:13] for r in records})
    ends = {sum(1 for r in records if r.ts[:13] <= h and not r.flagged) for h in hours}
    assert set(checkpoints) <= ends and len(checkpoints) >= 5  # the ends of hours, about every 1/8 of the votes
    for model, rating, *_ in hourly.ratings:
        assert series[model][-1] == exact.convergence[1][model][-1]
    store.close()


@settings(max_examples=300, deadline=None)
@given(st.integers(5, 100_000), st.floats(0, 1), st.floats(1e-9, 1 - 1e-9))
def test_the_outlier_test_is_scipys_binomtest_to_the_last_bit(n, share, p) -> None:
    from scipy.stats import binomtest

    from sbs_tui.core.analysis.agreement import binom_less

    k = int(share * n)
    assert binom_less(k, n, p) == binomtest(k, n, p, alternative="less").pvalue


def test_a_running_import_holds_the_watermark_until_it_commits() -> None:
    """Votes of an import still running are invisible: the catch-up stops below them (and below the votes that
    came after them), and counts them all once the import commits."""
    store = Store.memory()
    serial = [0]
    rows = [(i % 3, "m-a", "zeta", WINNERS[i % 4], i % 5, "model_b", 1.0) for i in range(30)]
    with store.transaction():
        store.votes.insert(_records(rows[:10], serial))
    run = store.imports.begin("votes", "test")
    with store.imports.batch(run):
        store.votes.insert(_records(rows[10:20], serial))
    with store.transaction():  # an annotator votes meanwhile
        store.votes.insert(_records(rows[20:], serial))
    assert store.tallies.catch_up() == 10
    store.imports.finish(run)
    assert store.tallies.catch_up() == 20
    assert _reports(store, True) == _reports(store, False)
    store.close()


def test_a_mass_change_recounts_from_zero_when_that_is_cheaper(monkeypatch) -> None:
    """Past the floor, more dirty items than a quarter of the prompts (a revoked annotator's votes deleted)
    recount from zero instead of item by item; below it, item by item. Either way the report is the raw one."""
    from sbs_tui.core.store import tallies_dirty

    store = Store.memory()
    serial = [0]
    rows = [(i % 4, MODELS[i % 4], MODELS[(i + 1) % 4], WINNERS[i % 4], i % 5, "model_b", 1.0) for i in range(80)]
    with store.transaction():
        store.votes.insert(_records(rows, serial))
    assert store.tallies.catch_up() == 80
    monkeypatch.setattr(tallies_dirty, "FLOOR", 0)
    with store.transaction():
        store.conn.execute("DELETE FROM votes WHERE id = 10")  # one item: 1 > 4 // 4 is false
    assert store.tallies.catch_up() < 79
    with store.transaction():
        store.conn.execute("DELETE FROM votes WHERE id % 5 = 0")  # many items: everything is recounted
    assert store.tallies.catch_up() == store.conn.execute("SELECT count(*) FROM votes").fetchone()[0]
    assert _reports(store, True) == _reports(store, False)
    store.close()


def test_a_vote_cast_after_undoing_the_newest_votes_is_counted() -> None:
    """SQLite gives the next vote the freed id of an undone newest vote: the watermark must come down with the
    undo (counted or a rolled-back import's), or the new vote would pass for counted and never be."""
    store = Store.memory()
    serial = [0]
    with store.transaction():
        store.votes.insert(_records([(0, "m-a", "zeta", "model_a", 0, None, 1.0)], serial))
    run = store.imports.begin("votes", "test")
    with store.imports.batch(run):
        store.votes.insert(_records([(1, "m-a", "m-b", "model_b", 1, None, 1.0)], serial))
    assert store.tallies.catch_up() == 1
    with store.transaction():
        store.conn.execute("DELETE FROM votes WHERE id = 1")  # the counted vote
    store.imports.roll_back(run)  # the newer, uncounted one
    with store.transaction():
        store.votes.insert(_records([(2, "m-b", "zeta", "model_b", 2, None, 1.0)], serial))
    assert store.conn.execute("SELECT max(id) FROM votes").fetchone()[0] == 1  # the freed id
    store.tallies.catch_up()
    assert _reports(store, True) == _reports(store, False)
    assert json.loads(_reports(store, True)[0])["votes"] == 1
    store.close()
