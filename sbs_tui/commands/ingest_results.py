"""`sbs import benchmarks FILE...` and `sbs import ab FILE...` — attached to the `sbs import` group."""

from __future__ import annotations

import click


def _run(ctx: click.Context, kind: str, files: tuple[str, ...], replace: bool, as_json: bool,
         model: str | None = None, control: str | None = None) -> None:
    from sbs_tui.commands.ingest import run_import
    from sbs_tui.core.ingest_results import import_result_files

    run_import(ctx, kind, files, as_json,
               lambda store, progress: import_result_files(store, kind, files, replace=replace, model=model,
                                                           progress=progress, control=control))


_REPLACE_HELP = ("Overwrite stored values that differ (default: a different value for a stored key is an error, "
                 "so a changed result never slips in unnoticed).")


@click.command("benchmarks")
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
    _run(ctx, "benchmarks", files, replace, as_json, model=model.strip() if model else None)


@click.command("ab")
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
    _run(ctx, "ab", files, replace, as_json, control=control)
