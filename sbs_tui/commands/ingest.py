"""`sbs import generations|votes|benchmarks|ab FILE...` — all-or-nothing, idempotent imports with a summary on
stderr."""

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

    from sbs_tui.cli_params import interruptible
    from sbs_tui.progress import file_progress

    if not files:
        raise click.UsageError("give at least one FILE")
    store = ctx.obj.open_store(create=True)
    try:
        progress = file_progress(f"importing {kind}")
        with (progress if progress is not None else contextlib.nullcontext(),
              interruptible(lambda: "nothing imported (an import is all or nothing: this one was rolled back)")):
            summary = do_import(store, progress)
    finally:
        store.close()
    click.echo(summary.line(), err=True)
    for note in getattr(summary, "notes", ()):
        click.echo(note, err=True)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))


def _run_import(ctx: click.Context, kind: str, files: tuple[str, ...], replace: bool, as_json: bool) -> None:
    from sbs_tui.core.ingest.importer import import_files

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

    A vote is its vote_id, or its content when it has none: importing the same file again adds nothing, and an
    identical row is one vote whichever file it is in (see the README's data formats)."""
    _run_import(ctx, "votes", files, replace, as_json)


# -- benchmark and A/B results (the funnel's other stages) --------------------------------------------------------


def _run_results_import(ctx: click.Context, kind: str, files: tuple[str, ...], replace: bool, as_json: bool,
                        model: str | None = None, control: str | None = None) -> None:
    from sbs_tui.core.ingest.results import import_result_files

    run_import(ctx, kind, files, as_json,
               lambda store, progress: import_result_files(store, kind, files, replace=replace, model=model,
                                                           progress=progress, control=control))


_REPLACE_HELP = ("Overwrite stored values that differ (default: a different value for a stored key is an error, "
                 "so a changed result never slips in unnoticed).")


@import_group.command("benchmarks")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--model", default=None, metavar="NAME",
              help="Model name for lm-evaluation-harness files (overrides the file's model_name / model_args) "
                   "and for CSV rows without a model column.")
@click.option("--replace", is_flag=True, help=_REPLACE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the import summary as JSON on stdout.")
@click.pass_context
def import_benchmarks(ctx: click.Context, files: tuple[str, ...], model: str | None, replace: bool,
                      as_json: bool) -> None:
    """Import benchmark results: lm-evaluation-harness results JSON, or rows model,benchmark,score[,metric]."""
    if model is not None and not model.strip():
        raise click.BadParameter("must not be blank", param_hint="--model")
    _run_results_import(ctx, "benchmarks", files, replace, as_json, model=model.strip() if model else None)


@import_group.command("ab")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help=_REPLACE_HELP)
@click.option("--control", default=None, metavar="VARIANT",
              help="The control of the experiments first imported here that have VARIANT (default: a variant "
                   "named control/baseline/A, else the first alphabetically). Stored; change it with sbs ab --control.")
@click.option("--json", "as_json", is_flag=True, help="Print the import summary as JSON on stdout.")
@click.pass_context
def import_ab(ctx: click.Context, files: tuple[str, ...], replace: bool, control: str | None, as_json: bool) -> None:
    """Import A/B results: experiment,variant,unit,metric,value rows, or aggregated
    experiment,variant,metric,n,mean,std / experiment,variant,metric,n,successes rows."""
    _run_results_import(ctx, "ab", files, replace, as_json, control=control)
