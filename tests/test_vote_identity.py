"""Vote identity on import: no vote dropped silently (identical rows are separate votes), no vote duplicated
(re-import adds nothing, also over votes an older version imported), and contradictions are conflicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbs_tui.core import ingest
from sbs_tui.core.records import current_uid, occurrence_uid
from sbs_tui.core.store import MIGRATIONS, Store
from sbs_tui.core.store import schema as schema_module
from tests.conftest import table_counts


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


HI = {"prompt": "Say hi", "model_a": "m1", "model_b": "m2", "winner": "model_a", "annotator": "ann"}


def test_identical_rows_are_separate_votes_and_reimport_adds_nothing(cli, db_path, tmp_path):
    other = {**HI, "winner": "tie"}
    f = write_jsonl(tmp_path / "v.jsonl", [HI, HI, other, HI])
    r = cli("--db", str(db_path), "import", "votes", "--json", str(f))
    assert r.exit_code == 0, r.stderr
    assert "inserted 4 (2 identical to an earlier row, kept as separate votes)" in r.stderr
    assert json.loads(r.stdout)["identical_kept"] == 2
    r = cli("--db", str(db_path), "import", "votes", str(f))
    assert r.exit_code == 0 and "inserted 0" in r.stderr and "4 already stored" in r.stderr
    with Store(db_path) as s:
        names, rows = s.votes.outcomes()
        assert sorted((n for *_, n in rows)) == [1, 3]  # three wins for m1, one tie
        uids = [v["vote_id"] for v in s.exports.votes()]
    assert len(set(uids)) == 4


def test_identical_uids_are_numbered_by_occurrence() -> None:
    base = "v_" + "0" * 24
    assert occurrence_uid(base, 0) == base
    assert len({occurrence_uid(base, k) for k in range(100)}) == 100
    assert occurrence_uid(base, 3) == occurrence_uid(base, 3) != occurrence_uid("v_" + "1" * 24, 3)


votes_pool = st.sampled_from([
    HI, {**HI, "winner": "model_b"}, {**HI, "annotator": "bob"}, {**HI, "prompt": "Say bye"},
    {**HI, "winner": "tie", "ts": "2026-01-01T00:00:00Z"}, {**HI, "model_a": "m2", "model_b": "m1"},
])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(votes_pool, min_size=1, max_size=25), fmt=st.sampled_from(["jsonl", "csv"]))
def test_any_multiset_of_rows_imports_once_per_row(tmp_path_factory, rows, fmt):
    tmp = tmp_path_factory.mktemp("multiset")
    if fmt == "jsonl":
        f = write_jsonl(tmp / "v.jsonl", rows)
    else:
        import csv

        f = tmp / "v.csv"
        with f.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["prompt", "model_a", "model_b", "winner", "annotator", "ts"])
            w.writeheader()
            w.writerows(rows)
    with Store(tmp / "s.db") as store:
        first = ingest.import_files(store, "votes", [f])
        assert (first.inserted, store.count("votes")) == (len(rows), len(rows))
        assert first.identical == len(rows) - len({json.dumps(r, sort_keys=True) for r in rows})
        again = ingest.import_files(store, "votes", [f])
        assert (again.inserted, again.already_stored, store.count("votes")) == (0, len(rows), len(rows))


def test_large_files_number_identical_votes_the_same_in_a_parser_process(tmp_path, monkeypatch):
    f = write_jsonl(tmp_path / "v.jsonl", [HI] * 30 + [{**HI, "winner": "tie"}] * 5)
    with Store(tmp_path / "a.db") as inline_db, Store(tmp_path / "b.db") as parallel_db:
        inline = ingest.import_files(inline_db, "votes", [f])
        monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", 0)
        parallel = ingest.import_files(parallel_db, "votes", [f])
        assert inline.as_dict() == parallel.as_dict() and inline.identical == 33
        assert list(inline_db.exports.votes()) == list(parallel_db.exports.votes())


def test_reused_vote_id_with_other_content_is_a_conflict(cli, db_path, tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [{**HI, "vote_id": "x1"}])
    assert cli("--db", str(db_path), "import", "votes", str(first)).exit_code == 0
    same = write_jsonl(tmp_path / "same.jsonl", [{**HI, "vote_id": "x1"}])
    r = cli("--db", str(db_path), "import", "votes", str(same))
    assert r.exit_code == 0 and "inserted 0" in r.stderr and "1 already stored" in r.stderr
    changed = write_jsonl(tmp_path / "b.jsonl", [{**HI, "prompt": "Other", "vote_id": "y"},
                                                 {**HI, "winner": "model_b", "vote_id": "x1"}])
    before = table_counts(db_path)
    r = cli("--db", str(db_path), "import", "votes", str(changed))
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {changed}:2: field 'vote_id': vote_id 'x1' is already stored with "
                               "different content (winner differ)")
    assert "--replace" in r.stderr and "Traceback" not in r.stderr
    assert table_counts(db_path) == before
    r = cli("--db", str(db_path), "import", "votes", "--replace", "--json", str(changed))
    assert r.exit_code == 0, r.stderr
    assert "inserted 1; replaced 1" in r.stderr and json.loads(r.stdout)["replaced"] == 1
    with Store(db_path) as s:
        stored = {v["vote_id"]: v for v in s.exports.votes()}
        assert stored["x1"]["winner"] == "model_b" and s.count("votes") == 2
        names, rows = s.votes.outcomes()
        assert [(names[a], names[b], score) for a, b, score, _ in rows if score == 1.0] == [("m1", "m2", 1.0)]


def test_one_vote_id_twice_in_one_file_with_other_content(cli, db_path, tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [{**HI, "vote_id": "x"}, {**HI, "vote_id": "x", "winner": "tie"}])
    r = cli("--db", str(db_path), "import", "votes", str(f))
    assert r.exit_code == 2 and f"{f}:2: field 'vote_id'" in r.stderr
    assert table_counts(db_path).get("votes", 0) == 0


def test_changed_verdict_in_a_later_file_is_a_conflict(cli, db_path, tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [HI, {**HI, "prompt": "Other"}])
    assert cli("--db", str(db_path), "import", "votes", str(first)).exit_code == 0
    # the same verdict given in the other orientation, and another annotator's verdict: no conflict
    agree = write_jsonl(tmp_path / "agree.jsonl", [
        {**HI, "model_a": "m2", "model_b": "m1", "winner": "model_b", "ts": "2026-02-01T00:00:00Z"},
        {**HI, "winner": "model_b", "annotator": "bob"}])
    r = cli("--db", str(db_path), "import", "votes", str(agree))
    assert r.exit_code == 0 and "inserted 2" in r.stderr, r.stderr
    changed = write_jsonl(tmp_path / "b.jsonl", [{**HI, "prompt": "New"},
                                                 {**HI, "model_a": "m2", "model_b": "m1", "winner": "model_a",
                                                  "ts": "2026-03-01T00:00:00Z"}])
    before = table_counts(db_path)
    r = cli("--db", str(db_path), "import", "votes", str(changed))
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {changed}:2: field 'winner': annotator 'ann' judged 'm2' vs 'm1'")
    assert "differently in an earlier file ('m1' better); use --replace" in r.stderr
    assert table_counts(db_path) == before
    r = cli("--db", str(db_path), "import", "votes", "--replace", str(changed))
    assert r.exit_code == 0, r.stderr
    assert "inserted 1; replaced 1" in r.stderr
    with Store(db_path) as s:
        ann = [v for v in s.exports.votes() if v["annotator"] == "ann" and v["prompt"] == "Say hi"]
        # both earlier votes of ann on the item (they agreed with each other) gave way to the new verdict
        assert [(v["model_a"], v["winner"], v.get("ts")) for v in ann] == [("m2", "model_a",
                                                                             "2026-03-01T00:00:00Z")]
        assert s.count("votes") == 4  # ann: Other, New, the new verdict; bob's vote


def test_an_annotator_may_judge_an_item_twice_within_one_file(cli, db_path, tmp_path):
    both_orders = write_jsonl(tmp_path / "a.jsonl", [
        {**HI, "left": "m1"}, {**HI, "model_a": "m2", "model_b": "m1", "winner": "model_a", "left": "m2"}])
    r = cli("--db", str(db_path), "import", "votes", str(both_orders))
    assert r.exit_code == 0 and "inserted 2" in r.stderr
    # a later file agreeing with either of them is no conflict
    later = write_jsonl(tmp_path / "b.jsonl", [{**HI, "ts": "2026-05-01T00:00:00Z"}])
    assert cli("--db", str(db_path), "import", "votes", str(later)).exit_code == 0


def test_changed_verdict_across_files_of_one_import(cli, db_path, tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [HI])
    b = write_jsonl(tmp_path / "b.jsonl", [{**HI, "winner": "tie"}])
    r = cli("--db", str(db_path), "import", "votes", str(a), str(b))
    assert r.exit_code == 2 and f"{b}:1: field 'winner'" in r.stderr
    assert table_counts(db_path).get("votes", 0) == 0  # all or nothing


# -- votes imported by an older version --------------------------------------------------------------------------

def _legacy_database(path: Path, files: list[Path], monkeypatch: pytest.MonkeyPatch) -> int:
    """A database as the version before 96-bit uids left it: schema up to 0005, uids 'v_' + the whole SHA-1."""
    with monkeypatch.context() as m:
        m.setattr(schema_module, "MIGRATIONS", MIGRATIONS[:5])
        with Store(path) as store, store.transaction():
            for f in files:
                records = list(ingest.iter_vote_records(f))
                for r in records:
                    r.uid = "v_" + r.content_digest()
                store.votes.insert(records, source=str(f))
            return store.count("votes")


def test_votes_imported_by_an_older_version_are_not_imported_again(tmp_path, monkeypatch, shared_alpaca):
    files = sorted((shared_alpaca / "judge_votes").glob("*.jsonl"))
    path = tmp_path / "old.db"
    stored = _legacy_database(path, files, monkeypatch)
    assert stored == 7 * 805
    with Store(path) as store:  # opening migrates (0006_vote_identity)
        uids = [r[0] for r in store.conn.execute("SELECT uid FROM votes")]
        assert {len(u) for u in uids} == {26}
        summary = ingest.import_files(store, "votes", files)
        assert (summary.inserted, summary.already_stored) == (0, stored)
        assert store.count("votes") == stored


def test_migration_drops_a_vote_imported_by_both_versions(tmp_path, monkeypatch):
    f = write_jsonl(tmp_path / "v.jsonl", [HI, {**HI, "winner": "tie"}])
    path = tmp_path / "old.db"
    _legacy_database(path, [f], monkeypatch)
    with monkeypatch.context() as m:  # the pre-fix current version imported the file again: duplicates
        m.setattr(schema_module, "MIGRATIONS", MIGRATIONS[:5])
        with Store(path) as store, store.transaction():
            store.votes.insert(list(ingest.iter_vote_records(f)))
            assert store.count("votes") == 4
    with Store(path) as store:
        assert store.count("votes") == 2
        assert [r[0] for r in store.conn.execute("SELECT id FROM votes ORDER BY id")] == [1, 2]  # the first copies
        assert ingest.import_files(store, "votes", [f]).inserted == 0


def test_an_old_export_with_full_length_vote_ids_matches_todays_uids(cli, db_path, tmp_path):
    f = write_jsonl(tmp_path / "v.jsonl", [HI])
    assert cli("--db", str(db_path), "import", "votes", str(f)).exit_code == 0
    record = next(ingest.iter_vote_records(f))
    old_export = write_jsonl(tmp_path / "old.jsonl", [{**HI, "vote_id": "v_" + record.content_digest()}])
    r = cli("--db", str(db_path), "import", "votes", str(old_export))
    assert r.exit_code == 0 and "inserted 0" in r.stderr, r.stderr
    assert current_uid("v_" + record.content_digest()) == record.uid
    assert current_uid("my-own-id") == "my-own-id"


def test_replacing_a_queue_vote_moves_the_assignment_to_the_replacement(tmp_path):
    """`sbs import votes --replace` over a vote cast through the queue: the annotator's new verdict takes the
    old vote's place (its pair, the assignment's vote_uid); before, the assignment stayed "done" pointing at a
    deleted vote and the pair lost a vote it still counted as taken."""
    from sbs_tui.core.queue import AnnotatorQueue
    from tests.annotate_helpers import make_store

    store = make_store(tmp_path / "q.db", prompts=1, models=("m1", "m2"), overlap=1,
                       outputs={(0, "m1"): "Yes, here it is.", (0, "m2"): "No, not today."})
    queue = AnnotatorQueue(store, "ann")
    pair = queue.next_pair()
    queue.vote(pair, "left", ts="2026-01-01T00:00:00Z")
    voted = pair.winner_for("left")
    flipped = {"model_a": "model_b", "model_b": "model_a"}[voted]
    changed = write_jsonl(tmp_path / "fix.jsonl", [{"prompt": "Prompt number 0: explain topic 0.", "model_a": "m1",
                                                    "model_b": "m2", "winner": flipped if pair.model_a == "m1"
                                                    else voted, "annotator": "ann"}])
    summary = ingest.import_files(store, "votes", [changed], replace=True)
    assert summary.replaced == 1
    (uid, status), = store.conn.execute("SELECT vote_uid, status FROM assignments").fetchall()
    assert status == "done"
    vote = store.conn.execute("SELECT pair_id, source FROM votes WHERE uid = ?", (uid,)).fetchone()
    assert vote == (pair.pair_id, str(changed))  # the assignment's vote is the replacement, on the pair
    assert store.count("votes") == 1
    assert store.conn.execute("SELECT votes, taken, open FROM pairs").fetchone() == (1, 1, 0)
    assert queue.progress()["done"] == 1 and queue.next_pair() is None
    store.close()
