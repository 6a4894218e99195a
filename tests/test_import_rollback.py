"""A failed import never sticks (issue 21, Major 1): whatever other writers do beside it — `sbs queue build`,
`sbs annotators add`, `sbs queue cap`, another import of the same rows — its rollback removes exactly its rows,
no `import_runs` row stays `running`, the next import works, and no read ever counts an uncommitted import."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

import sbs_tui.core.ingest.importer as ingest
from sbs_tui.core.queue.build import BuildOptions, build_queue
from sbs_tui.core.records import VoteRecord, prompt_id_for
from sbs_tui.core.store import Store
from sbs_tui.core.team import add_annotator
from sbs_tui.errors import InputError
from tests.test_import_concurrency import count, sbs, write_votes


def write_rows(path: Path, rows: list[dict], bad_last: bool = False) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
        if bad_last:
            fh.write('{"prompt": "p", "model": "m1"}\n')  # no output: an input error on the last line
    return path


def generations(n_prompts: int, models=("m1", "m2", "m3"), tag: str = "") -> list[dict]:
    return [{"prompt": f"{tag}prompt {i}", "model": m, "output": f"{m} answers {i}"}
            for i in range(n_prompts) for m in models]


class Beside:
    """A progress object whose ``start`` of the n-th file runs ``action`` first: other writers acting between an
    import's committed batches and its failure, deterministically."""

    def __init__(self, at_file: int, action):
        self.at_file, self.action, self.files = at_file, action, 0

    def start(self, path, total):
        self.files += 1
        if self.files == self.at_file:
            self.action()

    def advance_to(self, done):
        pass

    def finish(self):
        pass


def runs(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, status FROM import_runs").fetchall()


def test_generations_import_failing_while_queue_build_runs_beside_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_SIZE", 200)
    db = tmp_path / "q.db"
    good = write_rows(tmp_path / "good.jsonl", generations(400))
    bad = write_rows(tmp_path / "bad.jsonl", generations(50, tag="more "), bad_last=True)
    seen = {}

    def beside():
        with Store(db) as other:  # another process's connection, as `sbs queue build` would open
            assert count(db, "SELECT count(*) FROM generations") == 1_200  # written, not committed
            seen["pending"] = other.generations.count_pending()
            build_queue(other, BuildOptions(overlap=2))
            seen["pairs"] = other.count("pairs")
            seen["status"] = other.gates.status_counts()
            add_annotator(other, "bob")
            with other.transaction():
                other.queue.set_cap("bob", 5)

    with Store(db) as store, pytest.raises(InputError) as err:
        ingest.import_files(store, "generations", [good, bad], progress=Beside(2, beside))
    assert f"{bad}:151" in err.value.describe()
    assert seen["pending"] == 0 and seen["status"] == {} and seen["pairs"] == 0
    assert count(db, "SELECT count(*) FROM pairs") == 0
    assert runs(db) == []  # rolled back: no run left 'running'
    assert count(db, "SELECT count(*) FROM generations") == 0
    assert count(db, "SELECT count(*) FROM prompts") == 0 and count(db, "SELECT count(*) FROM models") == 0
    assert count(db, "SELECT count(*) FROM annotator_tokens") == 1  # bob's token and cap stay: others' writes
    with Store(db) as store:
        summary = ingest.import_files(store, "generations", [good])  # the next import works
        assert summary.inserted == 1_200
        build_queue(store, BuildOptions(overlap=1))
        assert store.count("pairs") == 400 * 3


def test_annotators_add_during_a_votes_import_that_introduces_that_annotator(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_SIZE", 100)
    db = tmp_path / "v.db"
    rows = [{"prompt": f"p{i}", "model_a": "m1", "model_b": "m2", "winner": "model_a", "annotator": "carol"}
            for i in range(500)]
    first = write_rows(tmp_path / "a.jsonl", rows)
    last = write_rows(tmp_path / "b.jsonl", [{**r, "prompt": r["prompt"] + "!"} for r in rows[:10]])
    with last.open("a") as fh:
        fh.write('{"prompt": "p", "model_a": "m1", "model_b": "m2", "winner": "nobody", "annotator": "carol"}\n')
    seen = {}

    def beside():
        with Store(db) as other:
            seen["outcomes"] = other.votes.outcomes()
            seen["kinds"] = other.votes.annotator_kinds()
            seen["export"] = list(other.exports.votes())
            add_annotator(other, "carol")  # refers to the annotator row the import created

    with Store(db) as store, pytest.raises(InputError):
        ingest.import_files(store, "votes", [first, last], progress=Beside(2, beside))
    assert seen == {"outcomes": ([], []), "kinds": {}, "export": []}
    assert runs(db) == [] and count(db) == 0
    assert count(db, "SELECT count(*) FROM annotators WHERE name = 'carol'") == 1  # kept: her token refers to it
    r = cli("--db", str(db), "import", "votes", str(first))
    assert r.exit_code == 0 and "inserted 500" in r.stderr, r.stderr
    r = cli("--db", str(db), "rank", "--format", "json")
    assert r.exit_code == 0 and {m["model"] for m in json.loads(r.stdout)["models"]} == {"m1", "m2"}


def test_a_killed_import_is_never_counted_and_never_locks_out_the_next(tmp_path):
    db = tmp_path / "k.db"
    Store(db).close()
    big = write_votes(tmp_path / "big.jsonl", 200_000, tag="killed")
    proc = sbs("--db", str(db), "import", "votes", str(big))
    deadline = time.monotonic() + 300
    while count(db) < 20_000:  # some batches committed
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    with Store(db) as reader:  # while it runs: a reader counts none of it
        assert reader.votes.outcomes() == ([], []) and reader.review.recent_votes() == []
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(db) as reader:  # killed, not yet recovered: still uncounted
        assert reader.votes.outcomes() == ([], []) and reader.votes.annotator_kinds() == {}
    # any command rolls it back before it reads: no report counts half an import, and rank says there is nothing
    ranked = sbs("--db", str(db), "rank", "--format", "json")
    _out, err = ranked.communicate(timeout=300)
    assert ranked.returncode == 2 and "no votes to rank" in err, err
    assert count(db) == 0
    small = write_votes(tmp_path / "small.jsonl", 100, tag="next", start=500_000)
    after = sbs("--db", str(db), "import", "votes", str(small))
    _out, err = after.communicate(timeout=300)
    assert after.returncode == 0, err
    assert count(db) == 100 and runs(db)[0][1] == "done" and len(runs(db)) == 1
    assert count(db, "SELECT count(*) FROM annotators WHERE name LIKE 'killed-%'") == 0


def test_a_rollback_that_fails_is_marked_uncounted_and_finished_by_the_next_command(cli, tmp_path, monkeypatch):
    """The disk filled (the rollback failed too): one note, the rows stay uncounted, and once space returns the
    next command rolls the import back."""
    monkeypatch.setattr(ingest, "BATCH_SIZE", 50)
    db = tmp_path / "f.db"
    bad = write_rows(tmp_path / "g.jsonl", generations(100), bad_last=True)
    from sbs_tui.core.store.imports import Imports

    real = Imports.roll_back

    def full(self, run_id):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Imports, "roll_back", full)
    with Store(db) as store, pytest.raises(InputError):
        ingest.import_files(store, "generations", [bad])
    (run_id, status), = runs(db)
    assert status == "running" and count(db, "SELECT count(*) FROM import_runs WHERE failed_at IS NOT NULL") == 1
    assert count(db, "SELECT count(*) FROM generations") == 300
    with Store(db) as reader:
        assert reader.generations.count_pending() == 0 and reader.gates.status_counts() == {}
    monkeypatch.setattr(Imports, "roll_back", real)  # space is back
    r = cli("--db", str(db), "queue", "status")
    assert r.exit_code == 0, r.stderr
    assert runs(db) == [] and count(db, "SELECT count(*) FROM generations") == 0


def test_an_import_that_fills_the_disk_rolls_back(tmp_path, monkeypatch):
    """A real SQLITE_FULL (the database may not grow past a page limit): the import fails with the disk's
    message and leaves nothing behind."""
    monkeypatch.setattr(ingest, "BATCH_SIZE", 100)
    db = tmp_path / "d.db"
    big = write_rows(tmp_path / "g.jsonl", generations(3_000))
    with Store(db) as store:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 60}")
        with pytest.raises(sqlite3.OperationalError, match="full"):
            ingest.import_files(store, "generations", [big])
    assert runs(db) == [] and count(db, "SELECT count(*) FROM generations") == 0


def test_rows_two_running_imports_share_survive_the_first_ones_rollback(tmp_path):
    db = tmp_path / "c.db"
    a, b = Store(db), Store(db)
    text = "A prompt both imports bring"
    vote = VoteRecord(prompt_id_for(text), text, "m1", "m2", "model_a", "ann")
    run_a = a.imports.begin("votes", "a")
    with a.imports.batch(run_a):
        a.votes.insert([vote])
    run_b = b.imports.begin("votes", "b")
    with b.imports.batch(run_b):
        counts = b.votes.insert([VoteRecord(prompt_id_for(text), text, "m1", "m2", "model_a", "ann")])
    assert counts.already_stored == 1  # the same vote: B claims A's row
    a.imports.roll_back(run_a)
    assert count(db) == 1 and b.votes.outcomes() == ([], [])  # handed to B, still uncounted
    b.imports.finish(run_b)
    assert b.votes.outcomes()[1] == [(0, 1, 0.0, 1)]
    a.close()
    b.close()


def _two_imports_of_one_vote(db, text):
    """Stores A and B, each running an import that brought the same vote (A first): the shared-row cases."""
    a, b = Store(db), Store(db)
    run_a = a.imports.begin("votes", "a")
    with a.imports.batch(run_a):
        a.votes.insert([VoteRecord(prompt_id_for(text), text, "m1", "m2", "tie", "ann")])
    run_b = b.imports.begin("votes", "b")
    with b.imports.batch(run_b):
        b.votes.insert([VoteRecord(prompt_id_for(text), text, "m1", "m2", "tie", "ann")])
    return a, b, run_a, run_b


def test_an_import_that_commits_first_adopts_what_it_claimed(tmp_path):
    db = tmp_path / "c2.db"
    text = "Shared"
    a, b, run_a, run_b = _two_imports_of_one_vote(db, text)
    b.imports.finish(run_b)  # B committed: the vote it brought is counted, though A is still running
    assert len(b.votes.outcomes()[1]) == 1
    a.imports.roll_back(run_a)
    assert len(b.votes.outcomes()[1]) == 1 and count(db, "SELECT count(*) FROM import_runs") == 1
    a.close()
    b.close()


def test_a_dead_importers_pid_given_to_a_new_process_does_not_keep_its_run_alive(tmp_path):
    import socket
    import subprocess

    db = tmp_path / "p.db"
    sleeper = subprocess.Popen(["sleep", "30"])  # the pid a killed importer had, now someone else's
    try:
        with Store(db) as store:
            store.conn.execute("INSERT INTO import_runs (kind, sources, pid, host, started_at) VALUES "
                               "('votes', 'x', ?, ?, '2020-01-01T00:00:00.000Z')", (sleeper.pid, socket.gethostname()))
            store.conn.execute("INSERT INTO import_runs (kind, sources, pid, host) VALUES ('votes', 'y', ?, ?)",
                               (sleeper.pid, socket.gethostname()))  # began after the sleeper: its own
            assert [r.run_id for r in store.imports.abandoned()] == [1]
            assert store.imports.recover_abandoned() == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_import_on_another_host_is_reported_in_one_line(cli, tmp_path):
    db = tmp_path / "h.db"
    with Store(db) as store:
        store.conn.execute("INSERT INTO import_runs (kind, sources, pid, host) VALUES ('votes', 'x', 1, 'elsewhere')")
    r = cli("--db", str(db), "queue", "status")
    assert r.exit_code == 0, r.stderr
    notes = [line for line in r.stderr.splitlines() if line.startswith("note: import #1")]
    assert len(notes) == 1 and "on elsewhere" in notes[0] and "not counted" in notes[0]


def test_rows_handed_over_by_a_rollback_go_with_the_claimants_own_rollback(tmp_path):
    db = tmp_path / "c3.db"
    text = "Shared, then nobody's"
    a, b, run_a, run_b = _two_imports_of_one_vote(db, text)
    a.imports.roll_back(run_a)  # the vote is handed to B
    b.imports.roll_back(run_b)  # and goes with B: nothing is left to surface later
    assert count(db) == 0 and count(db, "SELECT count(*) FROM prompts") == 0
    assert count(db, "SELECT count(*) FROM import_runs") == 0
    a.close()
    b.close()
