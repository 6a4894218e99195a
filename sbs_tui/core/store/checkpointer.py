"""WAL checkpoints of a long import, taken off the import's write path (a thread with its own connection).

Why: an import writes in short transactions (``store.imports``) so annotators never wait long behind it. With
SQLite's default auto-checkpoint (1,000 WAL pages) every one of those commits was followed, on the importing
thread, by a checkpoint that copied the commit's pages into the database file and synced it. Vote indexes are
keyed by random hashes (uid, prompt), so a commit of a few thousand votes dirties a few thousand index pages — and
the checkpoints cost as much as the inserts. At 1M votes, imports ran at a fifth of the ``executemany`` floor.

Here the importing connection's auto-checkpoint is off and this thread checkpoints (PASSIVE: it never blocks a
writer or a reader) as soon as a batch commits. Two gains: the importer's next transaction runs while the pages
are copied, and one checkpoint covers every batch committed while the previous one ran, so a page rewritten by
several batches is copied once. While it runs it also holds SQLite's checkpoint lock, so an annotator's commit
does not inherit a pile of import pages to checkpoint (its own auto-checkpoint finds the lock taken and returns).

The WAL stays bounded: when the last checkpoint left more than :data:`MAX_WAL_FRAMES` frames in the log, the
importer calls :meth:`Checkpointer.catch_up` before its next transaction — it waits for the thread and checkpoints
everything, so SQLite restarts the WAL from its beginning at the next write.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import TracebackType

# Frames (pages) a WAL may hold before the importer stops to let checkpoints catch up: ~256 MiB of 4 KiB pages.
# Why this large: restarting the WAL needs a moment when every frame is checkpointed, and each catch-up stops the
# import for one; at 64 MiB a 1M-vote import stopped every third batch. (The one-transaction import it replaced
# grew the WAL to the size of the whole import.)
MAX_WAL_FRAMES = 65_536
POLL_SECONDS = 0.001


class Checkpointer:
    """``with Checkpointer(conn, path) as ckpt:`` … ``ckpt.committed()`` after each batch's commit.

    ``conn`` is the importing connection (its auto-checkpoint is switched off while the block runs and restored
    after); ``path`` the database file, which the thread opens a connection of its own to.
    """

    def __init__(self, conn: sqlite3.Connection, path: str | Path):
        self._conn = conn
        self._path = str(path)
        self._kick = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = False
        self._log_frames = 0  # frames in the WAL after the latest checkpoint (what a restart would free)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._saved_autocheckpoint = 1000

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def __enter__(self) -> Checkpointer:
        self._saved_autocheckpoint = self._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._thread = threading.Thread(target=self._run, name="sbs-import-checkpointer", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop = True
        self._kick.set()
        if self._thread is not None:
            self._thread.join()
        self._conn.execute(f"PRAGMA wal_autocheckpoint = {int(self._saved_autocheckpoint)}")
        if exc_type is None:
            self._checkpoint(self._conn)  # what the last batches wrote, as the auto-checkpoint would have

    # -- the importer's side --------------------------------------------------------------------------------------

    def committed(self) -> None:
        """A batch was committed: checkpoint it (and whatever else is in the log) in the background — or here, as
        the auto-checkpoint would have, when the thread could not open its connection."""
        if self._thread is not None and self._thread.is_alive():
            self._kick.set()
        else:
            self._checkpoint(self._conn)

    def needs_catch_up(self) -> bool:
        return self._log_frames > MAX_WAL_FRAMES

    def catch_up(self) -> None:
        """Wait for the running checkpoint and checkpoint the rest here, so the next write restarts the WAL."""
        while not self._idle.wait(0.05):
            pass
        self._checkpoint(self._conn)

    # -- the thread -----------------------------------------------------------------------------------------------

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        _busy, log, _done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self._log_frames = max(log, 0)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
        except sqlite3.Error as exc:  # e.g. out of file descriptors: imports still work, checkpointed at the end
            self._error = exc
            return
        try:
            conn.execute("PRAGMA busy_timeout = 1000")
            while not self._stop:
                # Also every POLL_SECONDS without a kick: a checkpoint with nothing to copy costs microseconds, and
                # the sooner this thread holds the checkpoint lock after a batch commits, the less likely an
                # annotator's commit (whose auto-checkpoint would copy the batch) gets there first.
                self._kick.wait(POLL_SECONDS)
                if self._stop:
                    break
                self._kick.clear()
                self._idle.clear()
                try:
                    self._checkpoint(conn)
                except sqlite3.Error as exc:  # a checkpoint that fails is retried by the next one
                    self._error = exc
                finally:
                    self._idle.set()
        finally:
            conn.close()
