"""`sbs gate [--watch]` — the background pre-filter: gate the database's pending generations.

Only generations that passed every blocking gate reach annotators. The annotator app never imports torch; it
runs this command as a subprocess (``python -m sbs_tui --db PATH gate --watch``): batches are committed one
short transaction at a time (WAL: the app keeps reading and writing), newly imported generations are picked up
every ``--interval`` seconds, SIGTERM/SIGINT stop it cleanly after the current batch, and all progress goes to
stderr. Without ``--watch`` it gates what is pending and prints per-model pass rates to stdout.
"""

from __future__ import annotations

import click


def build_runner(ctx: click.Context, config_path: str | None, gate_names: str | None,
                 references: tuple[str, ...]):
    """The gate policy (config + defaults + command-line choices) as a runner; shared with ``sbs score``."""
    from sbs_tui.config import load_settings
    from sbs_tui.core.gating import GateRunner, load_policy

    settings = load_settings(config_path) if config_path else ctx.obj.settings
    only = [n.strip() for n in gate_names.split(",") if n.strip()] if gate_names else None
    if gate_names is not None and not only:
        raise click.BadParameter("give at least one gate name", param_hint="--gates")
    gates = load_policy(settings, only=only, references=list(references))

    def log(message: str) -> None:
        click.echo(message, err=True)

    return GateRunner(gates, log=log, source=settings.source)


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
    import os
    import signal
    import threading
    import time

    from sbs_tui.core import gating

    runner = build_runner(ctx, config_path, gate_names, references)
    for gate in runner.gates:
        runner.scorer(gate)  # build every scorer now: a bad config fails before anything is marked
    if not runner.has_blocking:
        click.echo("no blocking gate configured: pending generations are marked passed", err=True)
    store = ctx.obj.open_store()
    stop = threading.Event()
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
        except ValueError:  # not the main thread (e.g. called from a test thread): no handlers
            pass
    started = time.perf_counter()
    last_report = [0.0]

    def on_batch(progress: gating.GateProgress, n: int) -> None:
        now = time.perf_counter()
        if now - last_report[0] < 2.0:  # a line every two seconds is progress; one per batch is noise
            return
        last_report[0] = now
        rate = progress.scored / max(now - started, 1e-9)
        click.echo(f"gated {progress.scored} ({progress.passed} passed, {progress.blocked} blocked, "
                   f"{rate:,.1f}/s)", err=True)

    try:
        if regate:
            with store.transaction():
                store.generations.set_gate_status(store.generations.ids(), "pending")
        if watch:
            if niceness and hasattr(os, "nice"):
                try:
                    os.nice(niceness)
                except OSError:
                    pass
            click.echo(f"watching for pending generations every {interval:g}s (stop with SIGTERM or Ctrl-C)",
                       err=True)
            def on_error(exc: Exception, wait: float) -> None:
                click.echo(f"gating failed ({type(exc).__name__}: {exc}); generations stay pending, "
                           f"retrying in {wait:.0f}s", err=True)

            gating.watch(store, runner, interval=interval, batch_size=batch_size, stop=stop, on_batch=on_batch,
                         on_error=on_error)
            click.echo("gate watcher stopped", err=True)
            return
        done = gating.gate_pending(store, runner, batch_size=batch_size, stop=stop, on_batch=on_batch)
        click.echo(f"gated {done.scored} generation(s): {done.passed} passed, {done.blocked} blocked "
                   f"({done.reused} cached gate results reused)", err=True)
        rates = gating.pass_rates(store, runner.gates)
    finally:
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if fmt == "json":
        click.echo(json.dumps({"gates": [{"name": g.name, "scorer": g.scorer, "blocking": g.blocking,
                                          "threshold": runner.threshold(g)} for g in runner.gates],
                               "models": rates}, ensure_ascii=False))
    else:
        _print_table(rates, [g.name for g in runner.gates])


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
