"""The annotator app under someone else's long write, a full disk, a crash, and a reveal followed by undo.

What these guard (issue 13): a vote never fails, is never lost or stored twice, and the pair is never unblinded
because another process holds the write lock for longer than any busy timeout; a write that really fails keeps
the vote and retries; a crash prints one line and a log path, never a traceback with the models' names.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from tests.annotate_helpers import MODELS, make_store, wait_until

import sbs_tui.tui.annotate.saving as saving_module
from sbs_tui.config import Settings, parse_settings
from sbs_tui.tui.annotate.app import APP_BUSY_TIMEOUT_MS, make_app


def stored_votes(path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT uid, pair_id, winner, rationale FROM votes ORDER BY id").fetchall()


def status_text(app) -> str:
    return str(app.screen.query_one("#status").render())


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "sbs.db"
    make_store(path, prompts=4).close()
    return path


async def test_vote_waits_for_a_lock_held_longer_than_the_busy_timeout(db, monkeypatch):
    monkeypatch.setattr(saving_module, "RETRY_BUSY_SECONDS", 0.05)
    app = make_app(db, "ann", Settings(), gate_watch=False)
    holder = sqlite3.connect(db, isolation_level=None)
    async with app.run_test(size=(120, 40)) as pilot:
        judge = app.screen
        first = judge.pair
        holder.execute("BEGIN IMMEDIATE")  # a lead's import holding the write lock
        held_for = 4 * saving_module.UI_WAIT_SECONDS + 10 * APP_BUSY_TIMEOUT_MS / 1000 + 0.5
        await pilot.press("1")
        await pilot.pause(held_for)
        # Still waiting: nothing stored, the same pair on screen, a visible "saving…", the app alive.
        assert stored_votes(db) == []
        assert judge.saving and judge.pair.pair_id == first.pair_id
        assert "saving your vote" in status_text(app)
        assert app.screen.query_one("#status").has_class("saving")
        await pilot.press("2")  # held: must not vote again, nor on a pair the annotator has not seen
        await pilot.press("s")
        holder.execute("ROLLBACK")
        await wait_until(pilot, lambda: not judge.saving)
        votes = stored_votes(db)
        assert len(votes) == 1 and votes[0][1] == first.pair_id
        assert votes[0][2] == first.winner_for("left")
        assert judge.pair is not None and judge.pair.pair_id != first.pair_id
        assert judge.done == 1 and "saving" not in status_text(app)
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM assignments WHERE status = 'skipped'").fetchone() == (0,)
    holder.close()


async def test_next_pair_waits_too_and_a_busy_start_is_not_an_empty_queue(db, monkeypatch):
    monkeypatch.setattr(saving_module, "RETRY_BUSY_SECONDS", 0.05)
    holder = sqlite3.connect(db, isolation_level=None)
    app = make_app(db, "ann", Settings(), gate_watch=False)
    holder.execute("BEGIN IMMEDIATE")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.4)
        judge = app.screen
        assert judge.pair is None and judge.saving
        empty = str(judge.query_one("#empty").render())
        assert "Waiting for the database" in empty and "No pairs" not in empty
        holder.execute("ROLLBACK")
        await wait_until(pilot, lambda: judge.pair is not None)
    holder.close()


async def test_disk_full_keeps_the_vote_and_stores_it_once_space_is_freed(db, monkeypatch):
    monkeypatch.setattr(saving_module, "RETRY_FAILED_SECONDS", 0.1)
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        judge = app.screen
        first = judge.pair
        conn = app.store.conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full: no page can be added
        judge.rationale = "a long rationale " * 600  # needs new (overflow) pages
        await pilot.press("1")
        await pilot.pause(0.5)
        assert stored_votes(db) == [] and judge.saving and app.is_running
        assert any("disk is full" in str(n.message) for n in app._notifications)
        status = status_text(app)
        assert "NOT SAVED" in status and "disk is full" in status
        assert app.screen.query_one("#status").has_class("failed")
        assert judge.pair.pair_id == first.pair_id
        conn.execute("PRAGMA max_page_count = 1073741823")  # space freed
        await wait_until(pilot, lambda: not judge.saving)
        votes = stored_votes(db)
        assert len(votes) == 1 and votes[0][1] == first.pair_id and votes[0][3].startswith("a long rationale")
        assert judge.pair.pair_id != first.pair_id
        assert any(str(n.message).startswith("Saved your vote") for n in app._notifications)


@pytest.mark.parametrize("quit_key", ["q", "ctrl+c"])
async def test_quit_while_a_vote_is_unsaved_asks_first(db, monkeypatch, quit_key):
    monkeypatch.setattr(saving_module, "RETRY_BUSY_SECONDS", 0.05)
    holder = sqlite3.connect(db, isolation_level=None)
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        holder.execute("BEGIN IMMEDIATE")
        await pilot.press("1")
        await pilot.pause(0.3)
        await pilot.press(quit_key)
        await pilot.pause(0.1)
        assert app.is_running
        assert any("not saved yet" in str(n.message) for n in app._notifications)
        holder.execute("ROLLBACK")
        await wait_until(pilot, lambda: not app.screen.saving)
    holder.close()
    assert len(stored_votes(db)) == 1


async def test_reveal_then_undo_withdraws_and_the_pair_never_comes_back(tmp_path):
    db = tmp_path / "r.db"
    make_store(db, prompts=2).close()  # 2 prompts × 3 model pairs = 6 pairs
    settings = parse_settings({"annotate": {"reveal_after_vote": True}})
    app = make_app(db, "ann", settings, gate_watch=False)
    seen: list[int] = []
    async with app.run_test(size=(120, 40)) as pilot:
        judge = app.screen
        revealed = judge.pair
        seen.append(revealed.pair_id)
        await pilot.press("1")
        await pilot.pause()
        assert any(revealed.left_model in str(n.message) for n in app._notifications)
        after_vote = judge.pair
        await pilot.press("u")
        await pilot.pause()
        assert stored_votes(db) == []
        assert judge.pair.pair_id == after_vote.pair_id  # the revealed pair is not shown again
        assert any("will not come back" in str(n.message) for n in app._notifications)
        while judge.pair is not None:
            seen.append(judge.pair.pair_id)
            await pilot.press("2")
            await wait_until(pilot, lambda: not judge.saving)  # a loaded machine may make a write wait
    assert seen.count(revealed.pair_id) == 1 and len(seen) == 6
    with sqlite3.connect(db) as conn:
        status = conn.execute("SELECT status FROM assignments WHERE pair_id = ?", (revealed.pair_id,)).fetchall()
        # its slot is free for someone else
        taken = conn.execute("SELECT taken, open FROM pairs WHERE id = ?", (revealed.pair_id,)).fetchone()
    assert status == [("skipped",)] and taken == (0, 1)
    # and not after a restart either
    app = make_app(db, "ann", settings, gate_watch=False)
    async with app.run_test(size=(120, 40)):
        assert app.screen.pair is None


async def test_undo_without_reveal_still_shows_the_pair_again(db):
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        first = app.screen.pair
        await pilot.press("1")
        await pilot.press("u")
        assert app.screen.pair.pair_id == first.pair_id


async def test_a_crash_prints_one_line_and_a_log_without_model_names(db, monkeypatch, capsys, tmp_path):
    app = make_app(db, "ann", Settings(), gate_watch=False)

    def broken_vote(pair, *args, **kwargs):
        model_a, model_b = pair.model_a, pair.model_b  # locals a rich traceback would print
        raise RuntimeError(f"boom while judging {model_a} vs {model_b}")

    monkeypatch.setattr(app.queue, "vote", broken_vote)
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("1")
            await asyncio.sleep(0.1)
    err = capsys.readouterr().err
    assert err.startswith("error: sbs annotate stopped because of an internal error (RuntimeError); details in ")
    assert "Traceback" not in err and not any(model in err for model in MODELS)
    logs = list((tmp_path / "crash-logs").glob("sbs-crash-*.log"))
    assert len(logs) == 1
    log = logs[0].read_text()
    assert "RuntimeError: boom while judging <model> vs <model>" in log and "broken_vote" in log
    assert not any(model in log for model in MODELS)
    assert app.return_code == 1


async def test_the_review_app_crashes_with_one_line_too(tmp_path, monkeypatch, capsys):
    from sbs_tui.tui.review.app import make_review_app

    db = tmp_path / "r.db"
    make_store(db, prompts=2).close()
    app = make_review_app(db, Settings())

    def broken() -> None:
        secret = {"model": MODELS[0]}  # a local a rich traceback would print
        raise KeyError(secret["model"])

    monkeypatch.setattr(app, "action_refresh_all", broken)
    with pytest.raises(KeyError):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("r")
            await asyncio.sleep(0.1)
    err = capsys.readouterr().err
    assert "internal error (KeyError); details in " in err and "Traceback" not in err
    assert MODELS[0] not in err and "secret" not in err
