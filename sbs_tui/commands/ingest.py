"""`sbs import generations|votes FILE...` — all-or-nothing, idempotent imports with a summary on stderr."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import click


@click.group("import")
def import_group() -> None:
    """Import generations, votes, benchmark results or A/B results into the database."""


def run_import(ctx: click.Context, kind: str, files: tuple[str, ...], as_json: bool,
               do_import: Callable[..., Any]) -> None:
    """Open the store, run ``do_import(store, progress)`` with a progress bar on a terminal, print the summary."""
    import json

    from sbs_tui.progress import file_progress

    if not files:
        raise click.UsageError("give at least one FILE")
    store = ctx.obj.open_store()
    try:
        progress = file_progress(f"importing {kind}")
        with progress if progress is not None else contextlib.nullcontext():
            summary = do_import(store, progress)
    finally:
        store.close()
    click.echo(summary.line(), err=True)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))


def _run_import(ctx: click.Context, kind: str, files: tuple[str, ...], replace: bool, as_json: bool) -> None:
    from sbs_tui.core.ingest import import_files

    run_import(ctx, kind, files, as_json,
               lambda store, progress: import_files(store, kind, files, replace=replace, progress=progress))


@import_group.command("generations")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True,
              help="Overwrite stored outputs that differ (default: a different output for a stored prompt and "
                   "model is an error, since annotators may have judged the old one).")
@click.option("--json", "as_json", is_flag=True, help="Print the import summary as JSON on stdout.")
@click.pass_context
def import_generations(ctx: click.Context, files: tuple[str, ...], replace: bool, as_json: bool) -> None:
    """Import generations: JSONL/JSON/CSV rows {prompt, model, output} or AlpacaEval model_outputs records."""
    _run_import(ctx, "generations", files, replace, as_json)


@import_group.command("votes")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True,
              help="Let these files overwrite stored votes they contradict: a vote_id stored with other content, "
                   "or an annotator's verdict on an item that differs from the one an earlier file gave "
                   "(default: either is an error).")
@click.option("--json", "as_json", is_flag=True, help="Print the import summary as JSON on stdout.")
@click.pass_context
def import_votes(ctx: click.Context, files: tuple[str, ...], replace: bool, as_json: bool) -> None:
    """Import votes: rows {prompt|prompt_id, model_a, model_b, winner, annotator} or AlpacaEval annotations.

    Importing the same file again adds nothing; identical rows within a file are separate votes."""
    _run_import(ctx, "votes", files, replace, as_json)


from sbs_tui.commands.ingest_results import import_ab, import_benchmarks  # noqa: E402  (benchmark/A-B stage)

import_group.add_command(import_benchmarks)
import_group.add_command(import_ab)
