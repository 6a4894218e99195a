"""The files of ``sbs score``: generation rows in, scored rows out (JSONL or CSV), and what a resumed run already did.

Why its own module: the local run (:mod:`sbs_tui.core.gates.scoring`) and the Ray engine
(:mod:`sbs_tui.core.gates.scoring_ray`) both key generations and skip the done ones by these rules; keeping them
below both is what lets the two engines share them without importing each other.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sbs_tui.core.ingest.rows import generation_from_row, iter_records
from sbs_tui.core.io.csv_cells import csv_text, csv_text_back
from sbs_tui.core.io.readers import iter_rows
from sbs_tui.core.records import GenerationRecord
from sbs_tui.errors import InputError


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
