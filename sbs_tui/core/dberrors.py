"""What a failed SQLite call means to a person, and retrying the ones that are only "busy".

Why a module of its own: three very different callers meet the same errors. The annotator app must never crash
or lose a vote because a lead's import holds the write lock (it retries, showing "saving…"); a concurrent
``sbs import`` must wait its turn instead of dying with ``database is locked``; and every command must turn a
full disk, a read-only file or a damaged database into one ``error:`` line instead of a traceback. They all need
the same two answers: *is this only contention* (retry) and *what should the person be told* (everything else).

SQLite reports the reason as an extended result code; Python (3.11+) exposes its name as
``exc.sqlite_errorname``. Older messages are matched as a fallback.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_BUSY_NAMES = ("SQLITE_BUSY", "SQLITE_LOCKED")
_BUSY_MESSAGES = ("database is locked", "database table is locked", "database schema is locked", "busy")

# SQLite result-code family → what a person can act on. Checked by prefix (SQLITE_IOERR_WRITE → SQLITE_IOERR).
_REASONS = (
    ("SQLITE_FULL", "the disk is full (or the database reached its size limit)"),
    ("SQLITE_READONLY", "the database is read-only here (file or folder permissions; if another user opened it, "
                        "its -wal/-shm files may belong to them)"),
    ("SQLITE_IOERR", "the disk reported an I/O error"),
    ("SQLITE_CANTOPEN", "the database file cannot be opened (missing folder or permissions)"),
    ("SQLITE_CORRUPT", "the database file is damaged"),
    ("SQLITE_NOTADB", "the file is not an SQLite database"),
    ("SQLITE_PERM", "permission denied"),
    ("SQLITE_NOMEM", "out of memory"),
    ("SQLITE_BUSY", "the database is busy (another program is writing to it)"),
    ("SQLITE_LOCKED", "the database is busy (another program is writing to it)"),
)
_MESSAGE_REASONS = (
    ("disk is full", "SQLITE_FULL"),
    ("readonly database", "SQLITE_READONLY"),
    ("disk i/o error", "SQLITE_IOERR"),
    ("unable to open database", "SQLITE_CANTOPEN"),
    ("malformed", "SQLITE_CORRUPT"),
    ("file is not a database", "SQLITE_NOTADB"),
)


def error_name(exc: BaseException) -> str | None:
    """The SQLite result-code name of ``exc`` (``SQLITE_FULL``...), from the code or, failing that, the message."""
    name = getattr(exc, "sqlite_errorname", None)
    if name:
        return str(name)
    message = str(exc).lower()
    if any(m in message for m in _BUSY_MESSAGES):
        return "SQLITE_BUSY"
    for needle, code in _MESSAGE_REASONS:
        if needle in message:
            return code
    return None


def is_busy(exc: BaseException) -> bool:
    """True when ``exc`` only means another connection holds a lock: waiting and retrying will succeed."""
    if not isinstance(exc, sqlite3.Error):
        return False
    name = error_name(exc) or ""
    return name.startswith(_BUSY_NAMES)


def describe(exc: BaseException) -> str:
    """One short line saying why a database call failed, for people (never a traceback)."""
    name = error_name(exc) or ""
    for prefix, reason in _REASONS:
        if name.startswith(prefix):
            return reason
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def retry_busy(fn: Callable[[], T], *, timeout: float = 120.0, first_delay: float = 0.005,
               max_delay: float = 0.25, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn`` until it does not fail with "busy", for at most ``timeout`` seconds.

    Backoff is exponential with full jitter (so a crowd of writers does not wake in step) and capped at
    ``max_delay``, so a writer notices a freed lock within a quarter of a second. ``fn`` must be safe to call
    again after a busy failure — a ``BEGIN IMMEDIATE`` transaction that was refused wrote nothing.
    """
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        try:
            return fn()
        except sqlite3.Error as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        sleep(random.uniform(0, delay))
        delay = min(max_delay, delay * 2)
