"""``sbs score`` as one library call: score generations from files or the database, resumably, into JSONL or CSV.

:func:`score_generations` is what the command calls: it reads generation rows with the importers' rules (a bad
row is an error before any output is written), skips the generations a previous run already wrote, scores the
rest batch by batch with a :class:`~sbs_tui.core.gates.runner.GateRunner` (database rows go through the gate-result
cache and fill it) and appends each batch as whole lines.

Why resumable: scoring 100k generations with a transformer takes hours; a killed run must not start over. A
rerun with the same output file skips the generations already there (identified by prompt, model and output
text) — a torn last line from a crash is cut off first. The resume rules are the part worth testing on their own.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sbs_tui.core.gates.score_files import ResultWriter, count_rows, generation_key, iter_generation_rows, read_done
from sbs_tui.core.ingest.rows import batched
from sbs_tui.core.records import GenerationRecord
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.gates.runner import GateRunner
    from sbs_tui.core.store import Store


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
    #: What this run's rows left unchecked (:class:`sbs_tui.core.gates.coverage.Unchecked`), for the closing lines.
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
        if engine == "ray":  # an actor pool per gate on Ray (sbs_tui.core.gates.scoring_ray); same output, same resume
            from sbs_tui.core.gates.scoring_ray import run_files_on_ray

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
    from sbs_tui.core.gates.coverage import group

    summary.unchecked = group((lang, cats, n) for (lang, cats), n in writer.unchecked.items())
    return summary


def _key(row: dict[str, Any], rec: GenerationRecord | None) -> str:
    if rec is None:  # a database row
        return generation_key(row["prompt"], row["model"], row["output"])
    return generation_key(rec.prompt, rec.model, rec.output)


def _score(store: Store | None, runner: GateRunner, todo: list[tuple[dict[str, Any], GenerationRecord | None]]) -> list[Any]:
    """Files are scored directly; database rows go through the gate-result cache (and fill it)."""
    from sbs_tui.core.gates.runner import score_rows
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
