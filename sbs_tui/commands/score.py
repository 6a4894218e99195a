"""`sbs score [FILE...]` — headless batch scoring for pipelines, with or without a database.

Output contract (one object per generation, JSONL or CSV): the input fields, plus ``scores`` (gate → number),
``blocked`` (bool) and ``reasons`` (the blocking gates that failed, with score and threshold).

Why resumable: scoring 100k generations with a transformer takes hours; a killed run must not start over. Each
batch is flushed as whole lines, and a rerun with the same ``--out`` skips the generations already there
(identified by prompt, model and output text) — a torn last line from a crash is cut off first.
"""

from __future__ import annotations

import click

BATCH = 64


@click.command("score")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--gates", "gate_names", default=None, metavar="NAMES",
              help="Comma-separated gates to run (default: the configured/default gates).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write results here (JSONL, or CSV for *.csv); resumes a partial file. Default: stdout.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default=None,
              help="Output format (default: from the --out extension, else jsonl).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="TOML file with [gates.NAME] tables (overrides the global --config).")
@click.option("--reference", "references", multiple=True, type=click.Path(),
              help="Reference corpus (file or folder) for the memorization gate; repeatable.")
@click.option("--fail-on-block", is_flag=True, help="Exit 1 if any generation is blocked.")
@click.option("--details", "with_details", is_flag=True, help="Add each gate's details (worst sentence, matched "
              "span, categories) under 'details'.")
@click.option("--batch-size", default=BATCH, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
@click.pass_context
def score_command(ctx: click.Context, files: tuple[str, ...], gate_names: str | None, out_path: str | None,
                  fmt: str | None, config_path: str | None, references: tuple[str, ...], fail_on_block: bool,
                  with_details: bool, batch_size: int, show_progress: bool | None) -> None:
    """Score generations from FILEs (JSONL/JSON/CSV, contract or AlpacaEval rows), or the database's
    generations when no FILE is given."""
    import sys

    from sbs_tui.commands.gate import build_runner
    from sbs_tui.core.scoring_io import ResultWriter, count_rows, iter_generation_rows, read_done
    from sbs_tui.core.ingest import batched
    from sbs_tui.errors import ExitCode

    runner = build_runner(ctx, config_path, gate_names, references)
    for gate in runner.gates:
        runner.scorer(gate)  # build every scorer first: a bad config fails before any output is written
    fmt = fmt or ("csv" if out_path and out_path.lower().endswith(".csv") else "jsonl")
    done, blocked_before = read_done(out_path, fmt) if out_path else ({}, 0)
    store = None
    if files:
        total = sum(count_rows(f) for f in files)  # also validates every row first: bad input writes nothing
        source = iter_generation_rows(files)
    else:
        store = ctx.obj.open_store()
        total = store.count("generations")
        source = ((row, None) for row in store.generations.iter_for_scoring())

    progress = _Progress(total, enabled=sys.stderr.isatty() if show_progress is None else show_progress)
    writer = ResultWriter(out_path, fmt, with_details=with_details)
    blocked = blocked_before
    scored = skipped = 0
    try:
        with progress:
            for batch in batched(source, batch_size):
                todo = [(row, rec) for row, rec in batch if _key(row, rec) not in done]
                skipped += len(batch) - len(todo)
                if todo:
                    outcomes = _score(store, runner, todo)
                    writer.write([_output_record(row, rec) for row, rec in todo], outcomes)
                    blocked += sum(o.blocked for o in outcomes)
                    scored += len(todo)
                progress.advance(len(batch))
    finally:
        writer.close()
        if store is not None:
            store.close()
    progress.summary(scored, skipped, blocked)
    if fail_on_block and blocked:
        ctx.exit(ExitCode.CHECK_FAILED)


def _key(row, rec) -> str:
    from sbs_tui.core.scoring_io import generation_key

    if rec is None:  # a database row
        return generation_key(row["prompt"], row["model"], row["output"])
    return generation_key(rec.prompt, rec.model, rec.output)


def _score(store, runner, todo):
    """Files are scored directly; database rows go through the gate-result cache (and fill it)."""
    from sbs_tui.core.gating import score_rows
    from scorers.base import ScoreItem

    if store is None:
        return runner.evaluate([ScoreItem(rec.prompt, rec.output, rec.reference) for _, rec in todo])
    outcomes, _ = score_rows(store, runner, [row for row, _ in todo])
    return outcomes


def _output_record(row, rec):
    if rec is not None:
        return dict(row)
    out = {"generation_id": row["id"], "prompt_id": row["prompt_id"], "prompt": row["prompt"],
           "model": row["model"], "output": row["output"]}
    for key in ("category", "reference"):
        if row.get(key) is not None:
            out[key] = row[key]
    return out


class _Progress:
    """A rich progress bar on stderr (generations done, rate, ETA) and a one-line summary at the end."""

    def __init__(self, total: int, *, enabled: bool):
        import time

        self.total = total
        self.enabled = enabled
        self.started = time.perf_counter()
        self._bar = None
        self._task = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]} gen/s"),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                                 transient=True)
            self._bar.start()
            self._task = self._bar.add_task("scoring", total=self.total or None, rate="-")
        return self

    def advance(self, n: int) -> None:
        if self._bar is not None:
            task = self._bar.tasks[0]
            speed = task.speed
            self._bar.update(self._task, advance=n, rate=f"{speed:,.0f}" if speed else "-")

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()

    def summary(self, scored: int, skipped: int, blocked: int) -> None:
        import time

        elapsed = time.perf_counter() - self.started
        rate = scored / elapsed if elapsed > 0 else 0.0
        extra = f", {skipped} already in the output" if skipped else ""
        click.echo(f"scored {scored} generation(s) in {elapsed:.1f}s ({rate:,.0f}/s){extra}; "
                   f"{blocked} blocked", err=True)
