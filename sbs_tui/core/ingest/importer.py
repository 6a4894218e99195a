"""Importers: rows of the contract formats (and AlpacaEval's, as they are) into normalised records.

Why the split between ``*_from_row`` and :func:`import_files`: the row functions are pure (row in, record or
a precise :class:`InputError` out) so they can be property-tested and reused by ``sbs score``, which reads
generation files without a database; :func:`import_files` adds the all-or-nothing transaction, batching,
de-duplication counts and progress.
"""

from __future__ import annotations

import sqlite3
import time
from array import array
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbs_tui.core.ingest.fast_votes import iter_vote_rows
from sbs_tui.core.ingest.rows import ImportSummary, batched, generation_from_row, iter_records, vote_from_row
from sbs_tui.core.records import VoteRecord
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.store import Store


BATCH_SIZE = 10_000  # rows parsed per batch (and the most one write transaction of an import takes)
# An import waits this long in all for a busy database (other imports, annotators) before giving up.
BUSY_WAIT_SECONDS = 600.0
# Pause after each batch's commit, so writers polling for the lock get it between an import's batches. Longer
# than a polling writer's gap between attempts (the app's 5 ms busy timeout, then ≤ 4 ms of jittered sleep): at 3 ms
# a writer could miss the window and wait out several batches (max 0.61 s at 1M votes; at 8 ms, 0.21 s and the
# same throughput, bench/bench_import.py).
YIELD_SECONDS = 0.008
# Each write transaction of an import is sized to hold the write lock about this long (measured as it goes, so a
# loaded machine writes smaller batches): what an annotator's vote may have to wait. Smaller costs throughput:
# each commit rewrites the index pages it touched (at 80 ms, a 50k-vote import on a loaded 2-core machine took ~35%
# longer than in 10,000-row transactions; bench/bench_import.py measures the cost idle). The WAL checkpoints that
# copy those pages into the database file run in a background thread (store/checkpointer.py), outside this time.
WRITE_TARGET_SECONDS = 0.15
FIRST_WRITE_ROWS = 2_000
MIN_WRITE_ROWS = 500


_PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {"generations": generation_from_row, "votes": vote_from_row}
# Files at least this large are parsed in a second process while this one writes (see _row_batches).
PARALLEL_MIN_BYTES = 8 << 20


@dataclass
class ParseTally:
    """What parsing one file counted besides its records (sent back from a parser process as plain values)."""

    skipped: Counter[str] = field(default_factory=Counter)  # reason → rows left out
    identical: int = 0  # votes identical to an earlier row of the file (one vote)


def _row_batches_inline(path: Path, kind: str, tally: ParseTally,
                        on_progress: Callable[[int], None] | None) -> Iterator[list[tuple[Any, ...]]]:
    if kind == "votes":  # common rows on the fast path (ingest/fast_votes.py), the same tuples
        identical = _IdenticalCount(tally)
        yield from batched(iter_vote_rows(path, skipped=tally.skipped, count_identical=identical.keys.append,
                                          on_progress=on_progress), BATCH_SIZE)
        identical.finish()
        return
    records = iter_records(path, _PARSERS[kind], skipped=tally.skipped, on_progress=on_progress)
    for batch in batched(records, BATCH_SIZE):
        yield [r.as_row() for r in batch]


_SET_COUNT_MAX = 100_000  # up to this many keys the count is a passing set (≤ 7 MB); above, a sort in place


class _IdenticalCount:
    """Count rows without ``vote_id`` identical to an earlier row of their file, for the summary.

    They are one vote (a vote's identity is its content when it has no id — the same rule as for a row repeated
    in another file, so how rows are split into files never changes what is stored); the store's unique uid
    keeps one. Every row still goes to the store: this only counts. The count is the rows less their distinct
    keys (a 64-bit prefix of each content uid), so the keys are kept in a flat array of 64-bit integers — 8
    bytes a row — and sorted once when the file ends (issue 22: the set of keys this replaced took 69 bytes a
    row, measured: ~690 MB of the parser at 10M votes).
    """

    __slots__ = ("keys", "tally")

    def __init__(self, tally: ParseTally):
        self.keys = array("Q")  # ``keys.append`` is what the parser calls per row: a C method, no Python frame
        self.tally = tally

    def finish(self) -> None:
        """The file ended: add its rows that repeat an earlier key to the tally."""
        if 1 < len(self.keys) <= _SET_COUNT_MAX:  # a small file: no numpy import (~0.1 s) for it
            self.tally.identical += len(self.keys) - len(set(self.keys))
        elif len(self.keys) > _SET_COUNT_MAX:
            import numpy as np

            keys = np.frombuffer(self.keys, dtype=np.uint64)
            keys.sort()  # in place, in the array's own memory
            self.tally.identical += int(np.count_nonzero(keys[1:] == keys[:-1]))
            del keys
        self.keys = array("Q")


def _parse_in_child(path: str, kind: str, out: Any, parent_pid: int | None = None) -> None:
    """Child process body: parse one file and send row batches, progress, skips, and the outcome.

    It dies with the importing process: after a ``kill -9`` (or SIGTERM) of the parent it would otherwise block
    for ever on the full queue, and keep multiprocessing's resource tracker alive with it.
    """
    import signal

    from sbs_tui.core.lifeline import die_with_parent

    die_with_parent(parent_pid, sig=signal.SIGKILL, grace=0)
    tally = ParseTally()
    try:
        for batch in _row_batches_inline(Path(path), kind, tally, lambda done: out.put(("progress", done))):
            out.put(("rows", batch))
        out.put(("done", (dict(tally.skipped), tally.identical)))
    except InputError as exc:  # sent as plain values: exceptions with keyword fields do not pickle back
        out.put(("input_error", (exc.message, exc.file, exc.line, exc.field)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        out.put(("crash", f"{type(exc).__name__}: {exc}"))


def _row_batches_parallel(path: Path, kind: str, tally: ParseTally,
                          on_progress: Callable[[int], None] | None) -> Iterator[list[tuple[Any, ...]]]:
    """Parse in a child process, write here: the two halves of an import take about the same time, so on two
    cores this nearly halves a large import. Rows cross the process boundary as plain tuples (cheap to pickle).
    """
    import multiprocessing as mp
    import os
    import queue as queue_mod

    ctx = mp.get_context("spawn")  # never fork a process that holds an open SQLite connection
    out = ctx.Queue(maxsize=4)
    child = ctx.Process(target=_parse_in_child, args=(str(path), kind, out, os.getpid()), daemon=True,
                        name="sbs-import-parser")
    child.start()
    try:
        while True:
            try:
                tag, payload = out.get(timeout=1.0)
            except queue_mod.Empty:
                if not child.is_alive():
                    raise RuntimeError(f"the parser process for {path} died (exit code {child.exitcode})") from None
                continue
            if tag == "rows":
                yield payload
            elif tag == "progress":
                if on_progress is not None:
                    on_progress(payload)
            elif tag == "done":
                skipped, identical = payload
                tally.skipped.update(skipped)
                tally.identical += identical
                return
            elif tag == "input_error":
                message, file, line, field_name = payload
                raise InputError(message, file=file, line=line, field=field_name)
            else:
                raise RuntimeError(f"parser process failed on {path}: {payload}")
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=5)
        out.close()


def _row_batches(path: Path, kind: str, tally: ParseTally,
                 on_progress: Callable[[int], None] | None) -> Iterator[list[tuple[Any, ...]]]:
    import os

    if path.stat().st_size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1:
        return _row_batches_parallel(path, kind, tally, on_progress)
    return _row_batches_inline(path, kind, tally, on_progress)


def import_files(store: Store, kind: str, paths: Sequence[str | Path], *, replace: bool = False,
                 progress: Any = None) -> ImportSummary:
    """Import files of one kind ('generations' or 'votes'): all files or none.

    Each batch of rows is its own short transaction, so annotators voting and other imports running at the same
    time wait a fraction of a second at most, never the whole import; a failure (a bad line, a conflict, a full
    disk, Ctrl+C) removes every batch already stored (``store.imports``), and an import killed outright is rolled
    back by the next command. A busy database is waited for (with backoff), never an error. ``--replace``
    imports, which change stored rows, run as one transaction. WAL checkpoints run beside the writes, in a thread
    of their own (:mod:`sbs_tui.core.store.checkpointer`): at 1M votes they cost as much as the inserts.

    ``progress`` is an optional object with ``start(path, total_bytes)``, ``advance_to(bytes)`` and ``finish()``
    (the CLI passes a rich progress bar when stderr is a terminal).
    """
    from sbs_tui.core.dberrors import retry_busy

    if kind not in _PARSERS:
        raise ValueError(kind)
    for path in paths:  # fail fast on a missing file, before any work
        if not Path(path).is_file():
            raise InputError("file not found" if not Path(path).exists() else "not a regular file", file=str(path))
    job = _ImportJob(store, kind, paths, replace=replace, progress=progress)
    if replace:
        with store.transaction():
            for rows, path in job.batches():
                job.count(job.insert(rows, path))
        return job.done()

    _recover(store)
    run_id = retry_busy(lambda: store.imports.begin(kind, "\n".join(map(str, paths))), timeout=BUSY_WAIT_SECONDS)
    source = job.batches()
    try:
        with _checkpointer(store) as checkpoints:
            _write_in_short_transactions(job, run_id, source, checkpoints)
        retry_busy(lambda: store.imports.finish(run_id), timeout=BUSY_WAIT_SECONDS)
    except BaseException:
        source.close()  # stops a parser child process first
        _abandon(store, run_id)
        raise
    return job.done()


class _ImportJob:
    """One :func:`import_files` call: the files it reads, how it stores a batch of rows, the summary it keeps."""

    def __init__(self, store: Store, kind: str, paths: Sequence[str | Path], *, replace: bool, progress: Any):
        self.store, self.kind, self.paths, self.replace, self.progress = store, kind, paths, replace, progress
        self.summary = ImportSummary(kind)
        self.tally = ParseTally(self.summary.skipped)

    def insert(self, rows: list[tuple[Any, ...]], path: Path) -> Any:
        from sbs_tui.core.store import ConflictError

        try:
            if self.kind == "generations":
                return self.store.generations.insert_rows(rows, source=str(path), replace=self.replace)
            return self.store.votes.import_rows(rows, source=str(path), replace=self.replace)
        except ConflictError as exc:
            file, _, line = (exc.origin or "").rpartition(":")
            raise InputError(str(exc), file=file or str(path),
                             line=int(line) if line.isdigit() else None, field=exc.field) from None

    def batches(self) -> Generator[tuple[list[tuple[Any, ...]], Path], None, None]:
        for path in map(Path, self.paths):
            self.summary.files += 1
            on_progress = None
            if self.progress is not None:
                self.progress.start(str(path), path.stat().st_size)
                on_progress = self.progress.advance_to
            for rows in _row_batches(path, self.kind, self.tally, on_progress):
                self.summary.read += len(rows)
                yield rows, path
            if self.progress is not None:
                self.progress.finish()

    def count(self, counts: Any) -> None:
        self.summary.inserted += counts.inserted
        self.summary.already_stored += counts.already_stored
        self.summary.replaced += counts.replaced

    def done(self) -> ImportSummary:
        self.summary.identical = self.tally.identical
        self.summary.read += sum(self.summary.skipped.values())
        return self.summary


def _write_in_short_transactions(job: _ImportJob, run_id: int, source: Iterable[tuple[list[tuple[Any, ...]], Path]],
                                 checkpoints: Any) -> None:
    """Store every batch as transactions sized to hold the write lock about WRITE_TARGET_SECONDS each, all
    belonging to import run ``run_id`` (rolled back as a unit if anything fails)."""
    from sbs_tui.core.dberrors import retry_busy

    store = job.store
    chunk = FIRST_WRITE_ROWS
    for rows, path in source:
        start = 0
        while start < len(rows):
            part = rows[start:start + chunk]

            def write(part: list[tuple[Any, ...]] = part, path: Path = path) -> Any:
                with store.imports.batch(run_id):
                    return job.insert(part, path)

            if checkpoints is not None and checkpoints.needs_catch_up():
                checkpoints.catch_up()  # keeps the WAL bounded (not counted as write time)
            began = time.perf_counter()
            try:
                counts = retry_busy(write, timeout=BUSY_WAIT_SECONDS)
            except sqlite3.IntegrityError as exc:
                if "FOREIGN KEY" not in str(exc):
                    raise
                # A concurrent import's rollback removed a prompt this connection had cached as stored;
                # the failed transaction dropped the caches, so once more resolves everything afresh.
                counts = retry_busy(write, timeout=BUSY_WAIT_SECONDS)
            elapsed = time.perf_counter() - began
            if checkpoints is not None:
                checkpoints.committed()
            job.count(counts)
            start += len(part)
            # Size the next transaction to hold the lock about WRITE_TARGET_SECONDS on this machine, now.
            fitted = int(len(part) * WRITE_TARGET_SECONDS / max(elapsed, 1e-4))
            chunk = max(MIN_WRITE_ROWS, min(BATCH_SIZE, fitted))
            # Leave the write lock free for a moment: waiting writers (an annotator's vote) poll for it.
            time.sleep(YIELD_SECONDS)


def _recover(store: Store) -> None:
    """Roll back imports killed earlier before starting; one that cannot be (its rows are pinned, or the disk is
    still full) is said in one line and never stops this import: its rows stay uncounted."""
    import logging

    from sbs_tui.core.dberrors import describe, retry_busy
    from sbs_tui.core.store import StoreError

    try:
        retry_busy(store.imports.recover_abandoned, timeout=BUSY_WAIT_SECONDS)
    except StoreError as exc:
        logging.getLogger("sbs_tui").warning("note: %s", exc)
    except sqlite3.OperationalError as exc:
        logging.getLogger("sbs_tui").warning("note: an earlier failed import could not be rolled back yet (%s); "
                                             "its rows are not counted", describe(exc))


def _abandon(store: Store, run_id: int) -> None:
    """Roll a failed import back; when that fails too (the disk is still full), mark it failed and say so in one
    line: its rows stay uncounted, and the next command to open the database rolls it back."""
    import logging

    from sbs_tui.core.dberrors import describe, retry_busy

    try:
        retry_busy(lambda: store.imports.roll_back(run_id), timeout=BUSY_WAIT_SECONDS)
        return
    except Exception as exc:  # noqa: BLE001 - reported below; the import's own error is what the caller raises
        problem = describe(exc) if isinstance(exc, sqlite3.Error) else str(exc)
    try:
        store.imports.mark_failed(run_id, problem)
    except Exception:  # noqa: BLE001 - the run is still 'running': recovered once its process is gone
        pass
    logging.getLogger("sbs_tui").warning(
        "note: import #%d could not be rolled back yet (%s); its rows are not counted, and the next sbs command "
        "on this database removes them", run_id, problem)


def _checkpointer(store: Store) -> Any:
    """WAL checkpoints in a background thread for an import into a database file (see ``store.checkpointer``);
    a no-op context for an in-memory store."""
    from contextlib import nullcontext

    from sbs_tui.core.store.checkpointer import Checkpointer

    path = store.path
    if path is None:
        return nullcontext(None)
    return Checkpointer(store.conn, path)
