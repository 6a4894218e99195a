"""Writes that wait for the database: the judging screen's votes, skips and claims, never lost to a busy or failing
database.

Someone else writing (a lead importing a million votes, the gate watcher, another annotator) must never crash
the app, lose a vote or move on before it is stored. Every write goes through :meth:`SavingScreen._write`: it is
tried at once, polling for the write lock for at most ``UI_WAIT_SECONDS`` (so the screen never freezes for
long); if the database is still busy the screen shows "saving…", holds the keys that would act on a pair
and retries every ``RETRY_BUSY_SECONDS`` until it lands. A write that really fails (disk full, read-only,
I/O error) is kept too: a message says what is wrong, and it is retried every ``RETRY_FAILED_SECONDS`` —
the annotator can wait for space to be freed without losing the vote. A retried vote keeps its uid, so it is
stored once.

Ending the session never drops a vote that is waiting: the app's quit (a closed browser tab, the server's quit
message, SIGTERM, the server dying) goes through :meth:`SavingScreen.save_before_exit`, which keeps trying for up
to ``EXIT_SAVE_SECONDS`` and logs the outcome on stderr (the team server's log). Only two things discard it, each
with a log line: the annotator pressing quit twice ("quit without it"), and a revoked access (the database
refuses the vote: :class:`~sbs_tui.core.store.AccessRevokedError`), which also ends the session.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from sbs_tui.core import dberrors
from sbs_tui.present.text import escape  # names are user data: the one literal rule

if TYPE_CHECKING:
    from sbs_tui.core.queue.annotator import AnnotatorQueue

UI_WAIT_SECONDS = 0.15  # each try polls for the write lock this long (every 1–4 ms), then lets the screen draw
RETRY_BUSY_SECONDS = 0.1  # the database is still busy: the next try starts this soon
RETRY_FAILED_SECONDS = 2.0  # the write failed (disk full, read-only...): try again this often
QUIT_CONFIRM_SECONDS = 5.0  # q while a vote is unsaved: a second q within this long quits anyway
EXIT_SAVE_SECONDS = 120.0  # the session is ending with a vote waiting: keep trying this long before giving up
# Keys that act on a pair (or on what goes with the next vote) are held while a write is waiting.
HELD_WHILE_SAVING = frozenset({"vote", "skip", "undo", "flag", "rationale", "criteria"})


@dataclass(slots=True)
class PendingWrite:
    """A database write the screen waits for: ``attempt`` until it succeeds, then ``then(result)``."""

    what: str  # "your vote", "the skip", "the next pair"... (for the status line and messages)
    attempt: Callable[[], Any]
    then: Callable[[Any], None]
    since: float
    attempts: int = 0
    problem: str | None = None  # why the last attempt failed, when it was not just "busy"
    record: dict[str, Any] | None = None  # a vote's identity, logged if it can never be written


class SavingScreen(Screen[None]):
    """A screen whose database writes wait for the database (see the module docstring); the judging screen's base."""

    def __init__(self, queue: AnnotatorQueue, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.queue = queue
        self._pending: PendingWrite | None = None
        self._quit_armed_at: float | None = None
        self.discard_on_exit = False  # the annotator chose "quit without it"
        self.exiting = False

    def refresh_status(self) -> None:
        """Redraw the status line, where a waiting write says so (the judging screen draws it)."""

    def write_held(self) -> None:
        """A write did not land at its first try: hold the keys that act on a pair (the judging screen also shows
        its waiting message when no pair is on screen)."""
        self.refresh_bindings()

    @property
    def saving(self) -> bool:
        """A write (a vote, a skip, the next pair...) is waiting for the database."""
        return self._pending is not None

    def _write(self, what: str, attempt: Callable[[], Any], then: Callable[[Any], None], *,
               record: dict[str, Any] | None = None) -> None:
        """Run a database write now, or keep it and retry until it lands (see the module docstring)."""
        self._pending = PendingWrite(what, attempt, then, time.monotonic(), record=record)
        self._attempt_pending()

    def _attempt_pending(self) -> None:
        write = self._pending
        if write is None or not self.is_attached or self.exiting:
            return
        try:
            # Polling every few ms catches the short gaps a chunked import leaves between its transactions.
            result = dberrors.retry_busy(write.attempt, timeout=UI_WAIT_SECONDS, first_delay=0.001,
                                         max_delay=0.004)
        except sqlite3.Error as exc:
            first = write.attempts == 0
            write.attempts += 1
            problem = None if dberrors.is_busy(exc) else dberrors.describe(exc)
            if problem and problem != write.problem:
                self.notify(f"Could not save {write.what}: {problem}. Nothing is lost: it is kept and retried "
                            f"every {RETRY_FAILED_SECONDS:g} s. Tell your lead if this persists.",
                            title="Not saved yet", severity="error", timeout=30, markup=False)
            write.problem = problem
            if first:
                self.write_held()
            self.refresh_status()
            self.set_timer(RETRY_FAILED_SECONDS if problem else RETRY_BUSY_SECONDS, self._attempt_pending,
                           name="retry-write")
            return
        self._pending = None
        self._quit_armed_at = None
        if write.attempts:
            self.refresh_bindings()
            if write.problem:
                self.notify(f"Saved {write.what}.", timeout=3)
        write.then(result)
        if write.attempts:
            self.refresh_status()

    async def save_before_exit(self, timeout: float | None = None) -> str:
        """The session is ending: write the vote that is waiting for the database (see the module docstring).
        Returns what happened: 'none', 'stored', 'already', 'revoked', 'discarded' or 'lost'."""
        import asyncio

        write = self._pending
        if write is None or write.what != "your vote":
            return "none"  # a skip, an undo or the next pair: nothing an annotator decided is lost
        self.exiting = True  # the screen's own retry timer stands down
        who = self.queue.annotator
        timeout = EXIT_SAVE_SECONDS if timeout is None else timeout
        pair_id = (write.record or {}).get("pair_id")
        if self.discard_on_exit:
            log_line(f"{who} quit without their unsaved vote on pair {pair_id} (pressed quit twice)")
            return "discarded"
        deadline = time.monotonic() + timeout
        log_line(f"{who}'s session is ending with a vote waiting for the database: saving it first")
        while True:
            try:
                outcome = dberrors.retry_busy(write.attempt, timeout=UI_WAIT_SECONDS, first_delay=0.001,
                                              max_delay=0.004)
            except sqlite3.Error as exc:
                if time.monotonic() >= deadline:
                    import json

                    log_line(f"{who}'s vote could NOT be saved ({dberrors.describe(exc)}) after {timeout:g} s; "
                             f"it was {json.dumps(write.record, sort_keys=True)}")
                    self._pending = None
                    return "lost"
                await asyncio.sleep(RETRY_BUSY_SECONDS if dberrors.is_busy(exc) else RETRY_FAILED_SECONDS)
                continue
            self._pending = None
            if outcome == "revoked":
                log_line(f"{who}'s access was revoked: their unsaved vote on pair {pair_id} was discarded")
            else:
                log_line(f"{who}'s waiting vote was {'saved' if outcome == 'stored' else 'already stored'} "
                         "before the session ended")
            return outcome


def log_line(text: str) -> None:
    """One line on the process's real stderr (the team server's log for a served session; Textual redirects
    ``sys.stderr`` while it runs, and stdout is the served app's protocol channel)."""
    import sys

    stream = sys.__stderr__
    if stream is not None:
        try:
            stream.write(f"sbs annotate: {escape(text)}\n")
            stream.flush()
        except (OSError, ValueError):
            pass
