"""Importers: rows of the contract formats (and AlpacaEval's, as they are) into normalised records.

Why the split between ``*_from_row`` and :func:`import_files`: the row functions are pure (row in, record or
a precise :class:`InputError` out) so they can be property-tested and reused by ``sbs score``, which reads
generation files without a database; :func:`import_files` adds the all-or-nothing transaction, batching,
de-duplication counts and progress.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbs_tui.core.readers import MAX_DEPTH, iter_rows, json_problem, too_deep
from sbs_tui.core.records import WINNERS, GenerationRecord, VoteRecord, current_uid, prompt_id_for
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


class SkipRow(Exception):
    """A row that is valid but carries nothing to store (e.g. an AlpacaEval record with no verdict)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------------------------
# Field helpers: every error names the field; CSV gives strings, JSON gives types — accept both where sane.
# --------------------------------------------------------------------------------------------------------------

def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


# Identifier-like fields where a JSON number is read as its text (``"prompt_id": 17``, an epoch ``ts``, a user id
# as an A/B ``unit``); in every other text field a number is an input error, as an object is (``{"output": 1}``,
# ``"model": NaN`` — which used to create a model named "nan").
_NUMBER_AS_TEXT = {"prompt_id", "vote_id", "ts", "unit", "variant", "experiment"}


def _text(row: dict[str, Any], key: str, *, required: bool = True, allow_empty: bool = False) -> str | None:
    value = row.get(key)
    if type(value) is str and value:  # the common case, kept cheap: imports run this ~15 times a row
        return value
    if value is None and not required:
        return None
    if _blank(value):
        if value == "" and allow_empty and key in row:
            return ""
        if required:
            raise InputError("missing or empty" if key in row else "missing", field=key)
        return None
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise InputError(f"expected text, got {type(value).__name__}", field=key)
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"expected text, got {value!r} (NaN and Infinity are not JSON)", field=key)
    if isinstance(value, (int, float)):
        if key in _NUMBER_AS_TEXT:
            return str(value)
        raise InputError(f"expected text, got a number ({value!r}); quote it to store it as text", field=key)
    if not isinstance(value, str):
        raise InputError(f"expected text, got {type(value).__name__}", field=key)
    return value


def _name(row: dict[str, Any], key: str) -> str:
    """A model or annotator name: non-empty after trimming (names are compared exactly, so trim once here)."""
    value = _text(row, key)
    assert value is not None
    value = value.strip()
    if not value:
        raise InputError("is blank", field=key)
    return value


def _float(row: dict[str, Any], key: str) -> float | None:
    value: Any = row.get(key)
    if type(value) is float and math.isfinite(value):
        return value
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise InputError("expected a number, got a boolean", field=key)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"expected a number, got {value!r}", field=key) from None
    if not math.isfinite(number):
        raise InputError(f"expected a finite number, got {value!r}", field=key)
    return number


def _object(row: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = row.get(key)
    if value is None:
        return None
    if _blank(value):
        return None
    if isinstance(value, str):  # CSV: a JSON-encoded object
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError("expected a JSON object", field=key) from None
        except (RecursionError, ValueError) as exc:
            raise InputError(json_problem(exc), field=key) from None
        if too_deep(value):
            raise InputError(f"nested too deeply (more than {MAX_DEPTH} levels)", field=key)
    if not isinstance(value, dict):
        raise InputError(f"expected an object, got {type(value).__name__}", field=key)
    return value


def _bool(row: dict[str, Any], key: str) -> bool:
    value = row.get(key)
    if value is None:
        return False
    if _blank(value):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise InputError(f"expected true/false, got {value!r}", field=key)


def _extra(row: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """Unknown fields are kept as metadata (contract); an explicit ``meta`` object is merged in."""
    meta = dict(_object(row, "meta") or {})
    for key, value in row.items():
        if key not in known and key != "meta" and not _blank(value):
            meta[key] = value
    return meta


# --------------------------------------------------------------------------------------------------------------
# Generations
# --------------------------------------------------------------------------------------------------------------

GENERATION_FIELDS = {"prompt", "model", "output", "prompt_id", "category", "reference"}
ALPACA_OUTPUT_FIELDS = {"instruction", "output", "generator", "dataset"}


def is_alpaca_output(row: dict[str, Any]) -> bool:
    return "instruction" in row and "generator" in row and "model" not in row


def generation_from_row(row: dict[str, Any]) -> GenerationRecord:
    """One generation from a contract row or an AlpacaEval ``model_outputs`` record."""
    if is_alpaca_output(row):
        prompt = _text(row, "instruction")
        model = _name(row, "generator")
        output = _text(row, "output", allow_empty=True)
        category = _text(row, "dataset", required=False)
        meta = _extra(row, ALPACA_OUTPUT_FIELDS | {"prompt_id", "reference", "category"})
        prompt_id = _text(row, "prompt_id", required=False)
        reference = _text(row, "reference", required=False)
        category = _text(row, "category", required=False) or category
    else:
        prompt = _text(row, "prompt")
        model = _name(row, "model")
        output = _text(row, "output", allow_empty=True)
        prompt_id = _text(row, "prompt_id", required=False)
        category = _text(row, "category", required=False)
        reference = _text(row, "reference", required=False)
        meta = _extra(row, GENERATION_FIELDS)
    assert prompt is not None and output is not None
    return GenerationRecord(
        prompt_id=prompt_id.strip() if prompt_id else prompt_id_for(prompt),
        prompt=prompt, model=model, output=output, category=category, reference=reference, meta=meta,
    )


# --------------------------------------------------------------------------------------------------------------
# Votes
# --------------------------------------------------------------------------------------------------------------

VOTE_FIELDS = {"prompt", "prompt_id", "model_a", "model_b", "winner", "annotator", "output_a", "output_b", "ts",
               "rationale", "criteria", "left", "weight", "vote_id", "annotator_kind", "flagged", "flag_reason"}
ALPACA_VOTE_FIELDS = {"instruction", "generator_1", "generator_2", "preference", "annotator", "output_1",
                      "output_2"}
_WINNER_ALIASES = {
    "model_a": "model_a", "a": "model_a", "model_b": "model_b", "b": "model_b", "tie": "tie", "draw": "tie",
    "both_bad": "both_bad", "tie (bothbad)": "both_bad", "tie(bothbad)": "both_bad", "bothbad": "both_bad",
    "both bad": "both_bad",
}


def is_alpaca_vote(row: dict[str, Any]) -> bool:
    return "generator_1" in row and "generator_2" in row and "preference" in row


def _winner(row: dict[str, Any], model_a: str, model_b: str) -> str:
    raw = _text(row, "winner")
    assert raw is not None
    label = _WINNER_ALIASES.get(raw.strip().lower())
    if label is None:
        # A winner given as the model's own name is unambiguous; accept it.
        if raw.strip() == model_a:
            return "model_a"
        if raw.strip() == model_b:
            return "model_b"
        raise InputError(f"must be one of {', '.join(WINNERS)} (or 'tie (bothbad)'), got {raw!r}", field="winner")
    return label


def _shown_left(row: dict[str, Any], model_a: str, model_b: str) -> str | None:
    raw = _text(row, "left", required=False)
    if raw is None:
        return None
    raw = raw.strip()
    if raw in ("model_a", "model_b"):
        return raw
    if raw == model_a:
        return "model_a"
    if raw == model_b:
        return "model_b"
    raise InputError(f"must name model_a or model_b ({model_a!r} or {model_b!r}), got {raw!r}", field="left")


def vote_from_row(row: dict[str, Any]) -> VoteRecord:
    """One vote from a contract row or an AlpacaEval annotation record (which may be skipped: no verdict)."""
    if is_alpaca_vote(row):
        return _alpaca_vote(row)
    model_a = _name(row, "model_a")
    model_b = _name(row, "model_b")
    if model_a == model_b:
        raise InputError(f"model_a and model_b are the same model ({model_a!r})", field="model_b")
    prompt = _text(row, "prompt", required=False)
    prompt_id = _text(row, "prompt_id", required=False)
    if prompt is None and prompt_id is None:
        raise InputError("a vote needs 'prompt' or 'prompt_id'", field="prompt")
    winner = _winner(row, model_a, model_b)
    weight = _float(row, "weight")
    if weight is None:
        weight = 1.0
    elif winner in ("tie", "both_bad"):
        if weight != 1.0:
            raise InputError("a tie carries no weight (omit it or use 1)", field="weight")
    elif not 0.5 <= weight <= 1.0:
        raise InputError(f"must be in [0.5, 1] (the winner's share of the win), got {weight}", field="weight")
    kind = (_text(row, "annotator_kind", required=False) or "human").strip()
    if kind not in ("human", "judge"):
        raise InputError(f"must be 'human' or 'judge', got {kind!r}", field="annotator_kind")
    return VoteRecord(
        prompt_id=prompt_id.strip() if prompt_id else prompt_id_for(prompt or ""),
        prompt=prompt,
        model_a=model_a,
        model_b=model_b,
        winner=winner,
        weight=weight,
        annotator=_name(row, "annotator"),
        annotator_kind=kind,
        shown_left=_shown_left(row, model_a, model_b),
        ts=_text(row, "ts", required=False),
        rationale=_text(row, "rationale", required=False),
        criteria=_object(row, "criteria"),
        flagged=_bool(row, "flagged"),
        flag_reason=_text(row, "flag_reason", required=False),
        output_a=_text(row, "output_a", required=False, allow_empty=True),
        output_b=_text(row, "output_b", required=False, allow_empty=True),
        meta=_extra(row, VOTE_FIELDS),
        uid=current_uid((_text(row, "vote_id", required=False) or "").strip()),
    )


def _alpaca_vote(row: dict[str, Any]) -> VoteRecord:
    """AlpacaEval: preference 1 → generator_1 wins, 2 → generator_2 wins, in between → weighted, 1.5 or 0 → draw.

    A preference p strictly between 1 and 2 is worth (p − 1) of a win to generator_2 — AlpacaEval's weighted
    win rate. Stored as winner + weight (the winner's share), and the original value is kept in ``meta``.
    """
    preference = _float(row, "preference")
    if preference is None:
        raise SkipRow("no verdict (preference is null)")
    model_a = _name(row, "generator_1")
    model_b = _name(row, "generator_2")
    if model_a == model_b:
        raise InputError(f"generator_1 and generator_2 are the same model ({model_a!r})", field="generator_2")
    if preference == 0 or preference == 1.5:
        winner, weight = "tie", 1.0
    elif 1.0 <= preference < 1.5:
        winner, weight = "model_a", 2.0 - preference
    elif 1.5 < preference <= 2.0:
        winner, weight = "model_b", preference - 1.0
    else:
        raise InputError(f"must be in [1, 2] or 0 (draw), got {preference!r}", field="preference")
    prompt = _text(row, "instruction")
    assert prompt is not None
    meta = _extra(row, ALPACA_VOTE_FIELDS)
    meta["preference"] = preference
    return VoteRecord(
        prompt_id=prompt_id_for(prompt), prompt=prompt, model_a=model_a, model_b=model_b, winner=winner,
        weight=weight, annotator=(_text(row, "annotator", required=False) or "alpaca_eval").strip(),
        annotator_kind="judge",
        output_a=_text(row, "output_1", required=False, allow_empty=True),
        output_b=_text(row, "output_2", required=False, allow_empty=True),
        meta=meta,
    )


# --------------------------------------------------------------------------------------------------------------
# Driving an import
# --------------------------------------------------------------------------------------------------------------

@dataclass
class ImportSummary:
    kind: str
    files: int = 0
    read: int = 0
    inserted: int = 0
    already_stored: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    identical: int = 0  # votes identical to an earlier row of their file: one vote (in ``already_stored``)
    replaced: int = 0  # rows that replaced a different stored row (--replace)
    notes: list[str] = field(default_factory=list)  # lines printed after the summary (A/B: the controls chosen)

    def line(self) -> str:
        skipped = sum(self.skipped.values()) + self.already_stored
        stored_before = self.already_stored - self.identical
        reasons = [f"{n:,} already stored" for n in [stored_before] if n]
        reasons += [f"{n:,} identical to an earlier row (one vote)" for n in [self.identical] if n]
        reasons += [f"{n:,} {why}" for why, n in sorted(self.skipped.items())]
        detail = f" ({'; '.join(reasons)})" if reasons else ""
        replaced = f"; replaced {self.replaced:,}" if self.replaced else ""
        return (f"{self.kind}: read {_count(self.read, 'row')} from {_count(self.files, 'file')}; "
                f"inserted {self.inserted:,}{replaced}; skipped {skipped:,}{detail}")

    def as_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "files": self.files, "read": self.read, "inserted": self.inserted,
               "already_stored": self.already_stored, "skipped": dict(self.skipped)}
        if self.kind == "votes":
            out |= {"identical": self.identical, "replaced": self.replaced}
        return out


def _count(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def iter_records(path: str | Path, parse: Callable[[dict[str, Any]], Any], *, skipped: Counter[str] | None = None,
                 on_progress: Callable[[int], None] | None = None) -> Iterator[Any]:
    """Parse every row of one file, attaching ``file:line`` to records and to errors."""
    for row in iter_rows(path, on_progress=on_progress):
        try:
            record = parse(row.data)
        except SkipRow as skip:
            if skipped is not None:
                skipped[skip.reason] += 1
            continue
        except InputError as exc:
            raise InputError(exc.message, file=str(path), line=row.line, field=exc.field) from None
        record.origin = f"{path}:{row.line}"
        yield record


def iter_generation_records(path: str | Path, **kwargs: Any) -> Iterator[GenerationRecord]:
    return iter_records(path, generation_from_row, **kwargs)


def iter_vote_records(path: str | Path, **kwargs: Any) -> Iterator[VoteRecord]:
    return iter_records(path, vote_from_row, **kwargs)


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items (itertools.batched arrives only in Python 3.12)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {"generations": generation_from_row, "votes": vote_from_row}
# Files at least this large are parsed in a second process while this one writes (see _row_batches).
PARALLEL_MIN_BYTES = 8 << 20


@dataclass
class ParseTally:
    """What parsing one file counted besides its records (sent back from a parser process as plain values)."""

    skipped: Counter[str] = field(default_factory=Counter)  # reason → rows left out
    identical: int = 0  # votes identical to an earlier row of the file (one vote)


def count_identical_votes(records: Iterable[VoteRecord], tally: ParseTally) -> Iterator[VoteRecord]:
    """Count rows without ``vote_id`` identical to an earlier row of their file, for the summary.

    They are one vote (a vote's identity is its content when it has no id — the same rule as for a row repeated
    in another file, so how rows are split into files never changes what is stored); the store's unique uid
    keeps one. Every row still goes to the store: this only counts. Memory: one 64-bit prefix per distinct vote.
    """
    seen: set[int] = set()
    for record in records:
        if not record.uid_given:
            key = int(record.uid[2:18], 16)
            if key in seen:
                tally.identical += 1
            else:
                seen.add(key)
        yield record


def _row_batches_inline(path: Path, kind: str, tally: ParseTally,
                        on_progress: Callable[[int], None] | None) -> Iterator[list[tuple[Any, ...]]]:
    records = iter_records(path, _PARSERS[kind], skipped=tally.skipped, on_progress=on_progress)
    if kind == "votes":
        records = count_identical_votes(records, tally)
    for batch in batched(records, BATCH_SIZE):
        yield [r.as_row() for r in batch]


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
    from sbs_tui.core.store import ConflictError

    if kind not in _PARSERS:
        raise ValueError(kind)
    summary = ImportSummary(kind)
    tally = ParseTally(summary.skipped)
    for path in paths:  # fail fast on a missing file, before any work
        if not Path(path).is_file():
            raise InputError("file not found" if not Path(path).exists() else "not a regular file", file=str(path))

    def insert(rows: list[tuple[Any, ...]], path: Path) -> Any:
        try:
            if kind == "generations":
                return store.generations.insert_rows(rows, source=str(path), replace=replace)
            return store.votes.import_rows(rows, source=str(path), replace=replace)
        except ConflictError as exc:
            file, _, line = (exc.origin or "").rpartition(":")
            raise InputError(str(exc), file=file or str(path),
                             line=int(line) if line.isdigit() else None, field=exc.field) from None

    def batches() -> Generator[tuple[list[tuple[Any, ...]], Path], None, None]:
        for path in map(Path, paths):
            summary.files += 1
            on_progress = None
            if progress is not None:
                progress.start(str(path), path.stat().st_size)
                on_progress = progress.advance_to
            for rows in _row_batches(path, kind, tally, on_progress):
                summary.read += len(rows)
                yield rows, path
            if progress is not None:
                progress.finish()

    def count(counts: Any) -> None:
        summary.inserted += counts.inserted
        summary.already_stored += counts.already_stored
        summary.replaced += counts.replaced

    def done() -> ImportSummary:
        summary.identical = tally.identical
        summary.read += sum(summary.skipped.values())
        return summary

    if replace:
        with store.transaction():
            for rows, path in batches():
                count(insert(rows, path))
        return done()

    _recover(store)
    run_id = retry_busy(lambda: store.imports.begin(kind, "\n".join(map(str, paths))), timeout=BUSY_WAIT_SECONDS)
    source = batches()
    chunk = FIRST_WRITE_ROWS
    try:
        with _checkpointer(store) as checkpoints:
            for rows, path in source:
                start = 0
                while start < len(rows):
                    part = rows[start:start + chunk]

                    def write(part: list[tuple[Any, ...]] = part, path: Path = path) -> Any:
                        with store.imports.batch(run_id):
                            return insert(part, path)

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
                    count(counts)
                    start += len(part)
                    # Size the next transaction to hold the lock about WRITE_TARGET_SECONDS on this machine, now.
                    fitted = int(len(part) * WRITE_TARGET_SECONDS / max(elapsed, 1e-4))
                    chunk = max(MIN_WRITE_ROWS, min(BATCH_SIZE, fitted))
                    # Leave the write lock free for a moment: waiting writers (an annotator's vote) poll for it.
                    time.sleep(YIELD_SECONDS)
        retry_busy(lambda: store.imports.finish(run_id), timeout=BUSY_WAIT_SECONDS)
    except BaseException:
        source.close()  # stops a parser child process first
        _abandon(store, run_id)
        raise
    return done()


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
