"""How an annotator's session ends (issue 21): a vote waiting for the database is written before the app exits,
whatever asked it to (the served session's quit message is the same ``ExitApp`` a closed browser tab sends);
a revoked annotator's vote is discarded with a log line and the session ends; a first-time annotator starting
while the database is locked gets the same "waiting for the database" screen as everyone else.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from textual import messages

import sbs_tui.tui.annotate.saving as saving_module
from sbs_tui.config import Settings
from sbs_tui.core.team import add_annotator
from sbs_tui.tui.annotate.app import make_app
from tests.annotate_helpers import make_store, wait_until


def stored_votes(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM votes").fetchone()[0]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "sbs.db"
    store = make_store(path, prompts=4)
    add_annotator(store, "ann")
    store.close()
    return path


async def test_the_quit_message_waits_for_the_vote_that_is_saving(db, monkeypatch, capfd):
    monkeypatch.setattr(saving_module, "RETRY_BUSY_SECONDS", 0.05)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        judge = app.screen
        await wait_until(pilot, lambda: judge.pair is not None)
        holder.execute("BEGIN IMMEDIATE")
        await pilot.press("1")
        await pilot.pause(0.3)
        assert judge.saving and stored_votes(db) == 0
        threading.Timer(1.0, holder.rollback).start()  # the lock frees after the session was told to end
        app.post_message(messages.ExitApp())  # what textual-serve's "quit" (a closed tab) and SIGTERM send
        await wait_until(pilot, lambda: not app.is_running, timeout=20)
    holder.close()
    assert stored_votes(db) == 1
    assert "waiting vote was saved before the session ended" in capfd.readouterr().err


async def test_quitting_twice_on_purpose_discards_the_vote_with_a_log_line(db, monkeypatch, capfd):
    monkeypatch.setattr(saving_module, "RETRY_BUSY_SECONDS", 0.05)
    holder = sqlite3.connect(db, isolation_level=None)
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen.pair is not None)
        holder.execute("BEGIN IMMEDIATE")
        await pilot.press("1")
        await pilot.pause(0.3)
        await pilot.press("q")
        await pilot.press("q")  # "press q again to quit without it"
        await wait_until(pilot, lambda: not app.is_running)
    holder.rollback()
    holder.close()
    assert stored_votes(db) == 0
    assert "quit without their unsaved vote" in capfd.readouterr().err


async def test_a_revoked_annotators_vote_is_discarded_and_the_session_ends(db, capfd):
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen.pair is not None)
        with sqlite3.connect(db) as conn:  # `sbs annotators revoke ann`, from another process
            conn.execute("UPDATE annotator_tokens SET revoked_at = 'now'")
        await pilot.press("1")
        await wait_until(pilot, lambda: not app.is_running)
    assert stored_votes(db) == 0
    err = capfd.readouterr().err
    assert "ann's access was revoked: their unsaved vote on pair" in err and "discarded" in err


async def test_a_first_time_annotator_waits_on_the_busy_screen_while_the_database_is_locked(db, monkeypatch):
    monkeypatch.setattr(saving_module, "RETRY_BUSY_SECONDS", 0.05)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # e.g. a long import
    try:
        app = make_app(db, "newcomer", Settings(), gate_watch=False)  # creating "newcomer" is a write
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            judge = app.screen
            assert app.is_running and judge.saving and judge.pair is None
            assert "Waiting for the database" in str(judge.query_one("#empty").render())
            holder.execute("ROLLBACK")
            await wait_until(pilot, lambda: judge.pair is not None)
    finally:
        holder.close()


async def test_a_vote_that_can_never_be_written_is_logged_whole(db, monkeypatch, capfd):
    """The last resort: the lock never frees within the exit limit; the log line carries the vote itself."""
    monkeypatch.setattr(saving_module, "RETRY_BUSY_SECONDS", 0.05)
    monkeypatch.setattr(saving_module, "EXIT_SAVE_SECONDS", 0.5)
    holder = sqlite3.connect(db, isolation_level=None)
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        judge = app.screen
        await wait_until(pilot, lambda: judge.pair is not None)
        pair = judge.pair
        holder.execute("BEGIN IMMEDIATE")
        await pilot.press("1")
        await pilot.pause(0.3)
        outcome = await judge.save_before_exit(timeout=0.5)
    holder.rollback()
    holder.close()
    assert outcome == "lost" and stored_votes(db) == 0
    err = capfd.readouterr().err
    assert "could NOT be saved" in err and f'"pair_id": {pair.pair_id}' in err
    assert f'"winner": "{pair.winner_for("left")}"' in err
