"""`sbs gate [--watch]` — the background pre-filter: gate the database's pending generations.

Only generations that passed every blocking gate reach annotators. The annotator app never imports torch; it
runs this command as a subprocess (``python -m sbs_tui --db PATH gate --watch``): batches are committed one
short transaction at a time (WAL: the app keeps reading and writing), newly imported generations are picked up
every ``--interval`` seconds, SIGTERM/SIGINT stop it cleanly after the current batch, and all progress goes to
stderr. Without ``--watch`` it gates what is pending and prints per-model pass rates to stdout. One watcher per
database: a second ``--watch`` on the same database says which process has it and exits 0
(:mod:`sbs_tui.core.gate_watcher`).
"""

from __future__ import annotations

import click


@click.command("gate")
@click.option("--watch", is_flag=True, help="Keep running: gate new pending generations as they are imported.")
@click.option("--interval", default=3.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds between polls for new pending generations (with --watch).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 10_000),
              help="Generations scored and committed per transaction.")
@click.option("--gates", "gate_names", default=None, metavar="NAMES", help="Comma-separated gates to run.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="TOML file with [gates.NAME] tables (overrides the global --config).")
@click.option("--reference", "references", multiple=True, type=click.Path(),
              help="Reference corpus (file or folder) for the memorization gate; repeatable.")
@click.option("--nice", "niceness", default=10, show_default=True, type=click.IntRange(0, 19),
              help="With --watch: lower this process's CPU priority, so an annotator app sharing the machine "
                   "stays responsive.")
@click.option("--regate", is_flag=True, help="Mark every generation pending first and gate all again (cached "
              "scores are reused; use after changing thresholds).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Format of the per-model pass-rate summary on stdout (not printed with --watch).")
@click.pass_context
def gate_command(ctx: click.Context, watch: bool, interval: float, batch_size: int, gate_names: str | None,
                 config_path: str | None, references: tuple[str, ...], niceness: int, regate: bool,
                 fmt: str) -> None:
    """Gate pending generations: blocking gates decide which generations annotators may see."""
    import json

    from sbs_tui.cli_params import echo_err, parse_gate_names
    from sbs_tui.config import load_settings
    from sbs_tui.core.gate_run import run_gate

    only = parse_gate_names(gate_names)
    settings = load_settings(config_path) if config_path else ctx.obj.settings
    run = run_gate(ctx.obj.db_path, ctx.obj.open_store, settings, only=only, references=references, watch=watch,
                   interval=interval, batch_size=batch_size, niceness=niceness, regate=regate, log=echo_err)
    if run.rates is None:  # --watch: progress went to stderr only
        return
    runner = run.runner
    if fmt == "json":
        click.echo(json.dumps({"gates": [{"name": g.name, "scorer": g.scorer, "blocking": g.blocking,
                                          "threshold": runner.threshold(g)} for g in runner.gates],
                               "models": run.rates}, ensure_ascii=False))
    else:
        _print_table(run.rates, [g.name for g in runner.gates])


def _print_table(rates: list[dict], gate_names: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from sbs_tui.results_render import literal  # model names are user data: shown literally, never as markup

    table = Table(title="gate pass rates per model")
    for col in ("model", "generations", "passed", "blocked", "pending", *gate_names):
        table.add_column(literal(col), justify="left" if col == "model" else "right")
    for r in rates:
        cells = [literal(r["model"]), str(r["generations"]), str(r["passed"]), str(r["blocked"]),
                 str(r["pending"])]
        for name in gate_names:
            g = r["gates"].get(name, {})
            cells.append("-" if g.get("pass_rate") is None else f"{100 * g['pass_rate']:.1f}%")
        table.add_row(*cells)
    console = Console(highlight=False)
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(highlight=False, width=160)
    console.print(table)
