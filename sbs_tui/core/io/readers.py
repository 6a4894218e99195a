"""Streaming row readers for JSONL, JSON arrays and CSV files (optionally gzip-compressed).

Why streaming: imports of millions of votes must run in bounded memory, so every reader yields one row at a
time with the line number it started on — the number every error message names.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sbs_tui.core.io.csv_cells import csv_text_back
from sbs_tui.errors import InputError

FORMATS = ("jsonl", "json", "csv", "tsv")
# JSON may spell a lone UTF-16 surrogate as an escape (\ud800); Python decodes it into a str that no UTF-8
# encoder (SQLite's included) accepts. Such rows are refused here, with their line, instead of crashing later.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_CHUNK = 1 << 20
# Python's csv module refuses fields over 131,072 characters by default; a JSONL row has no such limit, so one
# output that imports from JSONL must import from CSV too (issue 21).
CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)
# Nesting deeper than this is refused with the row's line: past ~1,000 levels Python itself cannot hold a row
# (RecursionError in the encoder, the checks, SQLite's JSON), and no evaluation format nests more than a few.
MAX_DEPTH = 200
# Gzip and zlib failures: a file that is not gzip, or whose compressed data is cut short or corrupt.
_READ_ERRORS = (OSError, EOFError, gzip.BadGzipFile, zlib.error)


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def check_unicode(obj: Any, raw: str, path: Path, line: int) -> None:
    """Refuse an object holding a lone surrogate (only possible through a ``\\udXXX`` escape; cheap otherwise)."""
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(obj):
        raise InputError("a string holds a lone UTF-16 surrogate escape (\\ud800–\\udfff): not valid Unicode",
                         file=str(path), line=line)


def json_problem(exc: BaseException) -> str:
    """Valid JSON syntax that Python still cannot hold: nesting deeper than the interpreter's recursion limit,
    or an integer longer than its digit limit (CVE-2020-10735 guard, 4,300 digits)."""
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply (more than ~1,000 levels of arrays/objects)"
    if "digits" in str(exc):
        return "invalid JSON: a number has too many digits (more than 4,300)"
    return f"invalid JSON: {exc}"


def too_deep(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a parsed JSON value nests deeper than ``limit`` (an iterative walk: never recursion itself)."""
    if not isinstance(obj, (dict, list)):
        return False
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def check_depth(obj: Any, raw: str, path: Path, line: int) -> None:
    """Refuse a row nested deeper than :data:`MAX_DEPTH` with its line (cheap: only rows with many brackets are
    walked)."""
    if raw.count("[") + raw.count("{") > MAX_DEPTH and too_deep(obj):
        raise InputError(f"nested too deeply (more than {MAX_DEPTH} levels of arrays/objects)", file=str(path),
                         line=line)


def _raw_stream(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile is a binary stream
    return open(path, "rb")


def unreadable(path: Path, exc: BaseException) -> InputError:
    """A whole-file failure (not UTF-8, not gzip, a cut-short gzip) as one error naming where it starts: the file
    is read again line by line to find the first bad line and its byte offset (in the uncompressed text)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line, offset = 0, 0
    try:
        with _raw_stream(path) as fh:
            for line, raw in enumerate(fh, start=1):
                try:
                    decoder.decode(raw[3:] if line == 1 and raw.startswith(codecs.BOM_UTF8) else raw)
                except UnicodeDecodeError as bad:
                    return InputError(f"not valid UTF-8 ({bad.reason} at byte offset {offset + bad.start})",
                                      file=str(path), line=line)
                offset += len(raw)
    except gzip.BadGzipFile as bad:
        return InputError(f"not a gzip file ({bad}; at byte offset 0)", file=str(path))
    except (EOFError, zlib.error, OSError) as bad:
        reason = "compressed data cut short" if isinstance(bad, EOFError) else str(bad)
        return InputError(f"cannot read: {reason} (after uncompressed byte offset {offset})", file=str(path),
                          line=line + 1)
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"not valid UTF-8 ({exc.reason})", file=str(path))
    return InputError(f"cannot read: {exc}", file=str(path))


@dataclass(slots=True)
class Row:
    line: int
    data: dict[str, Any]


def detect_format(path: Path) -> str:
    """The format from the file name (``.jsonl``, ``.ndjson``, ``.json``, ``.csv``, ``.tsv``, each optionally
    ``.gz``); for an unknown extension, from the first non-blank character."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"), (".csv", "csv"),
                     (".tsv", "tsv")):
        if name.endswith(ext):
            return fmt
    with open_text(path) as fh:
        head = fh.read(4096).lstrip()
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        return "jsonl"
    return "csv"


def open_text(path: Path) -> IO[str]:
    """Open as UTF-8 text (a BOM is skipped); strict decoding so a non-UTF-8 file is reported, not garbled."""
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="strict", newline="")
    return open(path, encoding="utf-8-sig", errors="strict", newline="")


def iter_rows(path: str | Path, *, fmt: str | None = None,
              on_progress: Callable[[int], None] | None = None) -> Iterator[Row]:
    """Yield the objects of one file with their (1-based) starting line numbers.

    ``on_progress`` receives the number of bytes of the file consumed so far (approximate for gzip), for
    progress bars.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.is_dir():
        raise InputError("is a directory, not a file", file=str(path))
    try:
        fmt = fmt or detect_format(path)
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})", file=str(path))
        reader = {"jsonl": _iter_jsonl, "json": _iter_json_array, "csv": _iter_csv, "tsv": _iter_tsv}[fmt]
        yield from reader(path, on_progress)
    except (UnicodeDecodeError, *_READ_ERRORS) as exc:
        raise unreadable(path, exc) from None


def _iter_jsonl(path: Path, on_progress: Callable[[int], None] | None) -> Iterator[Row]:
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        consumed = 0
        for line_no, raw in enumerate(fh, start=1):
            consumed += len(raw)
            if on_progress is not None and line_no % 4096 == 0:
                on_progress(consumed)
            if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                text = decoder.decode(raw, final=True)
            except UnicodeDecodeError as exc:
                raise InputError(f"not valid UTF-8 ({exc.reason})", file=str(path), line=line_no) from exc
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path),
                                 line=line_no) from exc
            except (RecursionError, ValueError) as exc:
                raise InputError(json_problem(exc), file=str(path), line=line_no) from None
            if not isinstance(obj, dict):
                raise InputError(f"expected a JSON object, got {type(obj).__name__}", file=str(path),
                                 line=line_no)
            check_unicode(obj, text, path, line_no)
            check_depth(obj, text, path, line_no)
            yield Row(line_no, obj)
        if on_progress is not None:
            on_progress(consumed)


class _ArrayStream:
    """Reading one top-level JSON array chunk by chunk: the buffer, the position in it, and its line number."""

    __slots__ = ("buf", "consumed", "eof", "fh", "line", "on_progress", "path", "pos")

    def __init__(self, fh: IO[str], path: Path, on_progress: Callable[[int], None] | None):
        self.fh, self.path, self.on_progress = fh, path, on_progress
        self.buf = ""
        self.pos = 0
        self.line = 1  # line number at buf[pos]
        self.consumed = 0
        self.eof = False

    def fill(self) -> bool:
        chunk = self.fh.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.consumed += len(chunk)
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        if self.on_progress is not None:
            self.on_progress(self.consumed)
        return True

    def skip_ws(self) -> None:
        while True:
            buf = self.buf
            while self.pos < len(buf) and buf[self.pos] in " \t\r\n":
                if buf[self.pos] == "\n":
                    self.line += 1
                self.pos += 1
            if self.pos < len(self.buf) or not self.fill():
                return

    def error(self, message: str, line: int | None = None) -> InputError:
        return InputError(message, file=str(self.path), line=self.line if line is None else line)

    def next_value(self, decoder: json.JSONDecoder) -> tuple[Any, int, str]:
        """The value at the position (reading more while it is cut off), its first line and its raw text."""
        start_line = self.line
        while True:
            try:
                obj, end = decoder.raw_decode(self.buf, self.pos)
                break
            except json.JSONDecodeError as exc:
                # Incomplete object at the end of the buffer: read more and retry; else a real error.
                if not self.eof and self.fill():
                    continue
                err_line = start_line + self.buf.count("\n", self.pos, exc.pos)
                raise self.error(f"invalid JSON: {exc.msg}", err_line) from exc
            except (RecursionError, ValueError) as exc:
                raise self.error(json_problem(exc), start_line) from None
        raw = self.buf[self.pos:end]
        self.line += raw.count("\n")
        self.pos = end
        return obj, start_line, raw


def _iter_json_array(path: Path, on_progress: Callable[[int], None] | None) -> Iterator[Row]:
    """Stream the objects of a top-level JSON array (AlpacaEval's ``model_outputs.json`` shape) chunk by chunk."""
    decoder = json.JSONDecoder()
    with open_text(path) as fh:
        s = _ArrayStream(fh, path, on_progress)
        s.skip_ws()
        if s.pos >= len(s.buf) or s.buf[s.pos] != "[":
            raise s.error("expected a JSON array of objects (or use .jsonl for one object a line)")
        s.pos += 1
        expect_value = True
        first = True
        while True:
            s.skip_ws()
            if s.pos >= len(s.buf):
                raise s.error("unexpected end of file inside the JSON array")
            ch = s.buf[s.pos]
            if ch == "]":
                if expect_value and not first:
                    raise s.error("trailing comma before ']'")
                s.pos += 1
                s.skip_ws()
                if s.pos < len(s.buf):
                    raise s.error("unexpected content after the JSON array")
                return
            if not expect_value:
                if ch != ",":
                    raise s.error("expected ',' or ']' between array items")
                s.pos += 1
                expect_value = True
                continue
            obj, start_line, raw = s.next_value(decoder)
            if not isinstance(obj, dict):
                raise s.error(f"expected a JSON object, got {type(obj).__name__}", start_line)
            check_unicode(obj, raw, path, start_line)
            check_depth(obj, raw, path, start_line)
            yield Row(start_line, obj)
            expect_value = False
            first = False


def _iter_csv(path: Path, on_progress: Callable[[int], None] | None, delimiter: str = ",") -> Iterator[Row]:
    csv.field_size_limit(CSV_FIELD_LIMIT)
    with open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"invalid CSV header: {exc}", file=str(path), line=1) from exc
        header = [h.strip() for h in header]
        if not any(header):
            raise InputError("empty CSV header", file=str(path), line=1)
        dupes = {h for h in header if header.count(h) > 1}
        if dupes:
            raise InputError(f"duplicate CSV columns: {', '.join(sorted(dupes))}", file=str(path), line=1)
        n = len(header)
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise InputError(f"invalid CSV: {exc}", file=str(path), line=start) from exc
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            if len(values) != n:
                raise InputError(f"expected {n} columns, found {len(values)}", file=str(path), line=start)
            if on_progress is not None and reader.line_num % 4096 == 0:
                on_progress(fh.buffer.tell() if hasattr(fh, "buffer") else 0)
            if any(v[:1] == "'" for v in values):  # a spreadsheet-safe export's text (core.io.export.csv_text)
                values = [csv_text_back(v) for v in values]
            yield Row(start, dict(zip(header, values)))


def _iter_tsv(path: Path, on_progress: Callable[[int], None] | None) -> Iterator[Row]:
    return _iter_csv(path, on_progress, delimiter="\t")
