"""Vote identity on import (issue 17 §3): a row's vote_id is its identity, a row without one is identified by its
content; the same rows store the same votes however they are split into files and imported (in one file, in turn,
at once); re-import adds nothing (also over votes an older version imported); a vote_id with other content is
the one conflict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbs_tui.core.ingest import importer as ingest
from sbs_tui.core.ingest import rows as ingest_rows
from sbs_tui.core.records import current_uid
from sbs_tui.core.store import MIGRATIONS, Store
from sbs_tui.core.store import migrate as migrate_module
from tests.conftest import table_counts


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


HI = {"prompt": "Say hi", "model_a": "m1", "model_b": "m2", "winner": "model_a", "annotator": "ann"}


def stored_votes(store: Store) -> list[str]:
    """What a store holds, independent of insertion order: every vote as its export line, sorted."""
    out = []
    for v in store.exports.votes():
        v.pop("vote_id") if v["vote_id"].startswith("v_") else None  # a content uid is content, said twice
        out.append(json.dumps(v, sort_keys=True))
    return sorted(out)


def test_identical_rows_are_one_vote_and_reimport_adds_nothing(cli, db_path, tmp_path):
    """Issue 17 §3: a row without vote_id is identified by its content, in one file as across files."""
    other = {**HI, "winner": "tie"}
    f = write_jsonl(tmp_path / "v.jsonl", [HI, HI, other, HI])
    r = cli("--db", str(db_path), "import", "votes", "--json", str(f))
    assert r.exit_code == 0, r.stderr
    assert "read 4 rows from 1 file; inserted 2; skipped 2 (2 identical to an earlier row (one vote))" in r.stderr
    assert json.loads(r.stdout)["identical"] == 2 and "identical_kept" not in json.loads(r.stdout)
    r = cli("--db", str(db_path), "import", "votes", str(f))
    assert r.exit_code == 0 and "inserted 0" in r.stderr and "2 already stored" in r.stderr
    with Store(db_path) as s:
        names, rows = s.votes.outcomes()
        assert sorted((n for *_, n in rows)) == [1, 1]  # one win for m1, one tie
    one = write_jsonl(tmp_path / "one.jsonl", [HI])
    r = cli("--db", str(db_path), "import", "votes", str(one))
    assert "read 1 row from 1 file;" in r.stderr  # singular (issue 17 §6)


def test_a_changed_verdict_is_another_vote_wherever_it_comes(cli, db_path, tmp_path):
    """Test-retest: an annotator re-judging an item is a second vote, in the same file or a later one (was a
    conflict, exit 2, in a later file and two votes in the same file)."""
    retest = {**HI, "winner": "tie"}
    a = write_jsonl(tmp_path / "a.jsonl", [HI])
    b = write_jsonl(tmp_path / "b.jsonl", [retest])
    assert cli("--db", str(db_path), "import", "votes", str(a)).exit_code == 0
    r = cli("--db", str(db_path), "import", "votes", str(b))
    assert r.exit_code == 0 and "inserted 1" in r.stderr, r.stderr
    with Store(db_path) as s:
        split = stored_votes(s)
    together = tmp_path / "t.db"
    assert cli("--db", str(together), "import", "votes", str(write_jsonl(tmp_path / "ab.jsonl", [HI, retest])),
               ).exit_code == 0
    with Store(together) as s:
        assert stored_votes(s) == split and len(split) == 2


votes_pool = st.sampled_from([
    HI, {**HI, "winner": "model_b"}, {**HI, "annotator": "bob"}, {**HI, "prompt": "Say bye"},
    {**HI, "winner": "tie", "ts": "2026-01-01T00:00:00Z"}, {**HI, "model_a": "m2", "model_b": "m1"},
])


def _files(tmp: Path, parts: list[list[dict]], fmt: str) -> list[Path]:
    import csv

    out = []
    for k, rows in enumerate(parts):
        if fmt == "jsonl":
            out.append(write_jsonl(tmp / f"v{k}.jsonl", rows))
            continue
        f = tmp / f"v{k}.csv"
        with f.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["prompt", "model_a", "model_b", "winner", "annotator", "ts", "vote_id"])
            w.writeheader()
            w.writerows(rows)
        out.append(f)
    return out


def _split(rows: list, cuts: list[int]) -> list[list]:
    bounds = sorted({min(c, len(rows)) for c in cuts} | {0, len(rows)})
    return [rows[i:j] for i, j in zip(bounds, bounds[1:]) if j > i]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(votes_pool, min_size=1, max_size=20), cuts=st.lists(st.integers(0, 20), max_size=4),
       fmt=st.sampled_from(["jsonl", "csv"]), data=st.data())
def test_rows_without_ids_store_the_same_votes_however_split(tmp_path_factory, rows, cuts, fmt, data):
    """Issue 17 §3: rows without vote_id give the same stored votes in one file, in several files in one import,
    in several imports in turn (in any order), and again on re-import."""
    tmp = tmp_path_factory.mktemp("split")
    parts = _split(rows, cuts)
    (tmp / "w").mkdir()
    whole, = _files(tmp / "w", [rows], fmt)
    pieces = _files(tmp, parts, fmt)
    with Store(tmp / "one.db") as one, Store(tmp / "many.db") as many, Store(tmp / "turn.db") as turn:
        ingest.import_files(one, "votes", [whole])
        ingest.import_files(many, "votes", pieces)
        for f in data.draw(st.permutations(pieces)):
            ingest.import_files(turn, "votes", [f])
        expected = stored_votes(one)
        assert len(expected) == len({json.dumps(r, sort_keys=True) for r in rows})
        assert stored_votes(many) == expected and stored_votes(turn) == expected
        again = ingest.import_files(turn, "votes", pieces)
        assert again.inserted == 0 and stored_votes(turn) == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(by_id=st.dictionaries(st.integers(0, 30), votes_pool, min_size=1, max_size=10), data=st.data())
def test_rows_with_ids_store_the_same_votes_for_any_split_and_order(tmp_path_factory, by_id, data):
    """A multiset of rows with vote_ids (one content per id, ids repeated at will): any split into files, in any
    order, stores one vote per distinct id."""
    ids = data.draw(st.lists(st.sampled_from(sorted(by_id)), min_size=1, max_size=20))
    rows = [{**by_id[k], "vote_id": f"id{k}"} for k in ids]
    cuts = data.draw(st.lists(st.integers(0, 20), max_size=4))
    tmp = tmp_path_factory.mktemp("ids")
    pieces = _files(tmp, _split(rows, cuts), "jsonl")
    order = data.draw(st.permutations(pieces))
    with Store(tmp / "a.db") as a, Store(tmp / "b.db") as b:
        ingest.import_files(a, "votes", pieces)
        for f in order:
            ingest.import_files(b, "votes", [f])
        assert stored_votes(a) == stored_votes(b)
        assert a.count("votes") == len(set(ids))


def test_files_imported_at_once_store_what_they_store_in_turn(tmp_path):
    """16 files with overlapping rows, imported by 16 threads at once (each its own connection), store exactly
    what they store one after the other: the identity check is the unique index, inside each write."""
    import threading

    rows = [{**HI, "prompt": f"P{i % 40}", "annotator": f"a{i % 3}", "winner": ("model_a", "tie")[i % 2],
             **({"vote_id": f"id{i % 50}"} if i % 3 == 0 else {})} for i in range(200)]
    rows = [r for r in rows if "vote_id" not in r or r == next(x for x in rows if x.get("vote_id") == r["vote_id"])]
    files = [write_jsonl(tmp_path / f"f{k}.jsonl", rows[k * 10: k * 10 + 60]) for k in range(16)]
    with Store(tmp_path / "turn.db") as turn:
        for f in files:
            ingest.import_files(turn, "votes", [f])
        expected = stored_votes(turn)
    Store(tmp_path / "once.db").close()
    errors: list[BaseException] = []

    def run(f: Path) -> None:
        try:
            with Store(tmp_path / "once.db") as s:
                ingest.import_files(s, "votes", [f])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Store(tmp_path / "once.db") as once:
        assert stored_votes(once) == expected
        assert once.conn.execute("SELECT count(*) FROM import_runs WHERE status != 'done'").fetchone()[0] == 0


def test_large_files_count_identical_votes_the_same_in_a_parser_process(tmp_path, monkeypatch):
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


def test_an_annotator_may_judge_an_item_twice_within_one_file(cli, db_path, tmp_path):
    both_orders = write_jsonl(tmp_path / "a.jsonl", [
        {**HI, "left": "m1"}, {**HI, "model_a": "m2", "model_b": "m1", "winner": "model_a", "left": "m2"}])
    r = cli("--db", str(db_path), "import", "votes", str(both_orders))
    assert r.exit_code == 0 and "inserted 2" in r.stderr
    # a later file agreeing with either of them is no conflict
    later = write_jsonl(tmp_path / "b.jsonl", [{**HI, "ts": "2026-05-01T00:00:00Z"}])
    assert cli("--db", str(db_path), "import", "votes", str(later)).exit_code == 0


# -- votes imported by an older version --------------------------------------------------------------------------

def _legacy_database(path: Path, files: list[Path], monkeypatch: pytest.MonkeyPatch) -> int:
    """A database as the version before 96-bit uids left it: schema up to 0005, uids 'v_' + the whole SHA-1."""
    with monkeypatch.context() as m:
        m.setattr(migrate_module, "MIGRATIONS", MIGRATIONS[:5])
        with Store(path) as store, store.transaction():
            for f in files:
                records = list(ingest_rows.iter_vote_records(f))
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
        m.setattr(migrate_module, "MIGRATIONS", MIGRATIONS[:5])
        with Store(path) as store, store.transaction():
            store.votes.insert(list(ingest_rows.iter_vote_records(f)))
            assert store.count("votes") == 4
    with Store(path) as store:
        assert store.count("votes") == 2
        assert [r[0] for r in store.conn.execute("SELECT id FROM votes ORDER BY id")] == [1, 2]  # the first copies
        assert ingest.import_files(store, "votes", [f]).inserted == 0


def test_an_old_export_with_full_length_vote_ids_matches_todays_uids(cli, db_path, tmp_path):
    f = write_jsonl(tmp_path / "v.jsonl", [HI])
    assert cli("--db", str(db_path), "import", "votes", str(f)).exit_code == 0
    record = next(ingest_rows.iter_vote_records(f))
    old_export = write_jsonl(tmp_path / "old.jsonl", [{**HI, "vote_id": "v_" + record.content_digest()}])
    r = cli("--db", str(db_path), "import", "votes", str(old_export))
    assert r.exit_code == 0 and "inserted 0" in r.stderr, r.stderr
    assert current_uid("v_" + record.content_digest()) == record.uid
    assert current_uid("my-own-id") == "my-own-id"
