"""``sbs score`` as one library call: score generations from files or the database, resumably, into JSONL or CSV.

:func:`score_generations` is what the command calls: it reads generation rows with the importers' rules (a bad
row is an error before any output is written), skips the generations a previous run already wrote, scores the
rest batch by batch with a :class:`~sbs_tui.core.gating.GateRunner` (database rows go through the gate-result
cache and fill it) and appends each batch as whole lines.

Why resumable: scoring 100k generations with a transformer takes hours; a killed run must not start over. A
rerun with the same output file skips the generations already there (identified by prompt, model and output
text) — a torn last line from a crash is cut off first. The resume rules are the part worth testing on their own.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sbs_tui.core.csv_cells import csv_text, csv_text_back
from sbs_tui.core.ingest import batched, generation_from_row, iter_records
from sbs_tui.core.readers import iter_rows
from sbs_tui.core.records import GenerationRecord
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.gating import GateRunner
    from sbs_tui.core.store import Store

ADDED_FIELDS = ("scores", "blocked", "reasons", "details", "language", "uncovered", "unchecked")


def generation_key(prompt: str, model: str, output: str) -> str:
    """Identity of a generation for resuming: the same prompt, model and output text."""
    blob = json.dumps([prompt.strip(), model, output], ensure_ascii=False)
    return hashlib.sha1(blob.encode("utf-8", "surrogatepass")).hexdigest()


def count_rows(path: str) -> int:
    """Parse every row of a file (the importers' rules) and count them: a bad row is an error before any
    output is written."""
    return sum(1 for _ in iter_records(path, generation_from_row))


def iter_generation_rows(paths: Sequence[str]) -> Iterator[tuple[dict[str, Any], GenerationRecord]]:
    """(the row as read, its normalised record) for every row of every file."""
    for path in paths:
        for row in iter_rows(path):
            try:
                record = generation_from_row(row.data)
            except InputError as exc:
                raise InputError(exc.message, file=str(path), line=row.line, field=exc.field) from None
            yield row.data, record


def read_done(path: str, fmt: str) -> tuple[dict[str, bool], int]:
    """Generations already in an output file (key → blocked) and how many were blocked; repairs a torn tail."""
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return {}, 0
    _cut_torn_tail(p)
    done: dict[str, bool] = {}
    if fmt == "csv":
        with p.open(encoding="utf-8", newline="") as fh:
            for record in csv.DictReader(fh):
                key = _record_key({k: csv_text_back(v) if isinstance(v, str) else v for k, v in record.items()})
                if key:
                    done[key] = str(record.get("blocked", "")).lower() == "true"
    else:
        with p.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise InputError(f"existing output is not JSONL ({exc}); choose another --out",
                                     file=path, line=line_no) from None
                key = _record_key(record)
                if key:
                    done[key] = bool(record.get("blocked"))
    return done, sum(done.values())


def _record_key(record: dict[str, Any]) -> str | None:
    if "generation_id" in record and "prompt" in record and "model" in record:
        return generation_key(record["prompt"], record["model"], record.get("output") or "")
    row = {k: v for k, v in record.items() if k not in ADDED_FIELDS and not k.startswith("score_")}
    try:
        rec = generation_from_row(row)
    except InputError:
        return None
    return generation_key(rec.prompt, rec.model, rec.output)


def _cut_torn_tail(path: Path) -> None:
    """Drop an incomplete last line (a run killed mid-write) so appending continues on a clean line."""
    with path.open("rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        step = min(size, 1 << 16)
        pos = size
        while pos > 0:
            start = max(0, pos - step)
            fh.seek(start)
            chunk = fh.read(pos - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                fh.truncate(start + nl + 1)
                return
            pos = start
        fh.truncate(0)


class ResultWriter:
    """Appends result records (input fields + scores, blocked, reasons) to a file or stdout, flushing per batch."""

    def __init__(self, path: str | None, fmt: str, *, with_details: bool = False):
        self.fmt = fmt
        self.with_details = with_details
        self._owns = path is not None
        self._fh = open(path, "a", encoding="utf-8", newline="") if path else sys.stdout
        self._new_file = path is None or Path(path).stat().st_size == 0
        self._csv: csv.DictWriter | None = None
        #: (language, unchecked categories) → rows written: the run's "not checked" lines (both engines write here).
        self.unchecked: dict[tuple[str | None, tuple[str, ...]], int] = {}
        if fmt == "csv" and path and not self._new_file:
            with open(path, encoding="utf-8", newline="") as fh:
                header = next(csv.reader(fh), None)
            if header:
                self._csv = csv.DictWriter(self._fh, fieldnames=header, extrasaction="ignore")

    def write(self, records: Sequence[dict[str, Any]], outcomes: Sequence[Any]) -> None:
        rows = []
        for record, outcome in zip(records, outcomes):
            out = {k: v for k, v in record.items() if k not in ADDED_FIELDS}
            out["scores"] = {k: _finite(v) for k, v in outcome.scores.items()}
            out["blocked"] = outcome.blocked
            out["reasons"] = [{**r, "score": _finite(r["score"])} if "score" in r else r for r in outcome.reasons]
            out["language"] = outcome.language
            out["uncovered"] = outcome.uncovered
            out["unchecked"] = list(outcome.unchecked)
            key = (outcome.language, tuple(outcome.unchecked))
            self.unchecked[key] = self.unchecked.get(key, 0) + 1
            if self.with_details:
                out["details"] = outcome.details
            rows.append(out)
        if self.fmt == "csv":
            self._write_csv(rows)
        else:
            self._fh.write("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))
        self._fh.flush()

    def _write_csv(self, rows: list[dict[str, Any]]) -> None:
        flat = []
        for r in rows:
            cells: dict[str, Any] = {}
            for k, v in r.items():
                if k == "scores":
                    cells.update({f"score_{g}": ("" if s is None else s) for g, s in v.items()})
                elif k in ("blocked", "uncovered"):
                    cells[k] = "true" if v else "false"
                elif isinstance(v, (dict, list)):
                    cells[k] = csv_text(json.dumps(v, ensure_ascii=False, default=str))
                else:
                    cells[k] = csv_text(v)
            flat.append(cells)
        if self._csv is None:
            fields: list[str] = []
            for cells in flat:
                fields.extend(k for k in cells if k not in fields)
            self._csv = csv.DictWriter(self._fh, fieldnames=fields, extrasaction="ignore")
            self._csv.writeheader()
        self._csv.writerows(flat)

    def close(self) -> None:
        if self._owns:
            self._fh.close()
        else:
            self._fh.flush()


def _finite(value: float | None) -> float | None:
    """JSON has no NaN: a missing score is written as null."""
    if value is None or value != value:
        return None
    return value


# ---------------------------------------------------------------------------------------------------------------
# The scoring run
# ---------------------------------------------------------------------------------------------------------------

class ScoreProgress(Protocol):
    """How a run reports progress (the CLI passes a progress bar on stderr); every call is optional work."""

    def start(self, total: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def stop(self) -> None: ...


@dataclass(slots=True)
class ScoreSummary:
    scored: int  # generations scored by this run
    skipped: int  # generations already in the output file (a resumed run)
    blocked: int  # blocked generations in the output file, earlier runs included
    #: What this run's rows left unchecked (:class:`sbs_tui.core.coverage.Unchecked`), for the closing lines.
    unchecked: list[Any] = field(default_factory=list)


def output_format(out_path: str | None, fmt: str | None) -> str:
    """The output format: as given, else CSV for a ``*.csv`` output file, else JSONL."""
    return fmt or ("csv" if out_path and out_path.lower().endswith(".csv") else "jsonl")


def score_generations(runner: GateRunner, files: Sequence[str], *, open_store: Callable[[], Store] | None = None,
                      out_path: str | None = None, fmt: str | None = None, with_details: bool = False,
                      batch_size: int = 64, progress: ScoreProgress | None = None, engine: str = "local",
                      address: str | None = None, workers: int | None = None,
                      log: Callable[[str], None] | None = None) -> ScoreSummary:
    """Score every generation of ``files`` (or of the database, via ``open_store``, when no file is given) with
    ``runner``, appending results to ``out_path`` (stdout when None) and skipping those already there."""
    if engine not in ("local", "ray"):
        raise InputError(f"unknown engine {engine!r} (choose from local, ray)", field="engine")
    if engine == "ray" and not files:
        raise InputError("the Ray engine scores files: give FILE(s) (the database's generations are gated with "
                         "their result cache by the local engine)", field="engine")
    fmt = output_format(out_path, fmt)
    done, blocked_before = read_done(out_path, fmt) if out_path else ({}, 0)
    store = None
    if files:
        total = sum(count_rows(f) for f in files)  # also validates every row first: bad input writes nothing
        source: Iterator[tuple[dict[str, Any], GenerationRecord | None]] = iter_generation_rows(files)
    else:
        if open_store is None:
            raise ValueError("give files or open_store")
        store = open_store()
        total = store.count("generations")
        source = ((row, None) for row in store.generations.iter_for_scoring())
    if progress is not None:
        progress.start(total)
    writer = ResultWriter(out_path, fmt, with_details=with_details)
    summary = ScoreSummary(0, 0, blocked_before)
    try:
        if engine == "ray":  # an actor pool per gate on Ray (sbs_tui.core.scoring_ray); same output, same resume
            from sbs_tui.core.scoring_ray import run_files_on_ray

            scored, skipped, blocked = run_files_on_ray(
                runner, source, done, writer, batch_size=batch_size, address=address, workers=workers,
                advance=progress.advance if progress is not None else None, log=log)
            summary.scored += scored
            summary.skipped += skipped
            summary.blocked += blocked
            source = iter(())
        for batch in batched(source, batch_size):
            todo = [(row, rec) for row, rec in batch if _key(row, rec) not in done]
            summary.skipped += len(batch) - len(todo)
            if todo:
                outcomes = _score(store, runner, todo)
                writer.write([_output_record(row, rec) for row, rec in todo], outcomes)
                summary.blocked += sum(o.blocked for o in outcomes)
                summary.scored += len(todo)
            if progress is not None:
                progress.advance(len(batch))
    finally:
        if progress is not None:
            progress.stop()
        writer.close()
        if store is not None:
            store.close()
    from sbs_tui.core.coverage import group

    summary.unchecked = group((lang, cats, n) for (lang, cats), n in writer.unchecked.items())
    return summary


def _key(row: dict[str, Any], rec: GenerationRecord | None) -> str:
    if rec is None:  # a database row
        return generation_key(row["prompt"], row["model"], row["output"])
    return generation_key(rec.prompt, rec.model, rec.output)


def _score(store: Store | None, runner: GateRunner, todo: list[tuple[dict[str, Any], GenerationRecord | None]]) -> list[Any]:
    """Files are scored directly; database rows go through the gate-result cache (and fill it)."""
    from sbs_tui.core.gating import score_rows
    from scorers.base import ScoreItem

    if store is None:
        return runner.evaluate([ScoreItem(rec.prompt, rec.output, rec.reference) for _, rec in todo if rec])
    outcomes, _ = score_rows(store, runner, [row for row, _ in todo])
    return outcomes


def _output_record(row: dict[str, Any], rec: GenerationRecord | None) -> dict[str, Any]:
    if rec is not None:
        return dict(row)
    out = {"generation_id": row["id"], "prompt_id": row["prompt_id"], "prompt": row["prompt"],
           "model": row["model"], "output": row["output"]}
    for key in ("category", "reference"):
        if row.get(key) is not None:
            out[key] = row[key]
    return out
