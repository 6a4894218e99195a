"""`sbs gate [--watch]` — the background pre-filter: gate the database's pending generations.

Only generations that passed every blocking gate reach annotators. The annotator app never imports torch; it
runs this command as a subprocess (``python -m sbs_tui --db PATH gate --watch``): batches are committed one
short transaction at a time (WAL: the app keeps reading and writing), newly imported generations are picked up
every ``--interval`` seconds, SIGTERM/SIGINT stop it cleanly after the current batch, and all progress goes to
stderr. Without ``--watch`` it gates what is pending and prints per-model pass rates to stdout. One watcher per
database: a second ``--watch`` on the same database says which process has it and exits 0
(:mod:`sbs_tui.core.gates.watcher`).
"""

from __future__ import annotations

import click


@click.group("gate", invoke_without_command=True)
@click.option("--watch", is_flag=True, help="Keep running: gate new pending generations as they are imported.")
@click.option("--interval", default=3.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds between polls for new pending generations (with --watch).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 10_000),
              help="Generations scored and committed per transaction.")
@click.option("--gates", "gate_names", default=None, metavar="NAMES", help="Comma-separated gates to run.")
@click.option("--reference", "references", multiple=True, type=click.Path(),
              help="Reference corpus (file or folder) for the memorization gate; repeatable.")
@click.option("--nice", "niceness", default=10, show_default=True, type=click.IntRange(0, 19),
              help="With --watch: lower this process's CPU priority, so an annotator app sharing the machine "
                   "stays responsive.")
@click.option("--regate", is_flag=True, help="Mark every generation pending first and gate all again (cached "
              "scores are reused; use after changing thresholds).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Format of the per-model pass-rate summary on stdout (not printed with --watch).")
@click.option("--workers", default=0, show_default=True, type=click.IntRange(0, 256),
              help="Processes scoring a single pass: 0 one per spare CPU core (by the load average) once 2,000 "
                   "generations are pending and every gate can be forked (the offline defaults can), 1 this "
                   "process only. --watch always scores in its own process.")
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Progress bar on stderr: done of total, rate, time left (default: when stderr is a terminal; "
                   "otherwise a line every few seconds).")
@click.pass_context
def gate_command(ctx: click.Context, watch: bool, interval: float, batch_size: int, gate_names: str | None,
                 references: tuple[str, ...], niceness: int, regate: bool,
                 fmt: str, show_progress: bool | None, workers: int) -> None:
    """Gate pending generations: blocking gates decide which generations annotators may see.

    `sbs gate eval FILE` measures the gates on labelled rows instead."""
    if ctx.invoked_subcommand is not None:
        return
    import json

    from sbs_tui.cli_params import echo_err, parse_gate_names
    from sbs_tui.core.gates.run import run_gate

    only = parse_gate_names(gate_names)
    settings = ctx.obj.settings
    from sbs_tui.progress import count_progress

    progress = None if watch else count_progress("gating", enabled=show_progress)
    run = run_gate(ctx.obj.db_path, ctx.obj.open_store, settings, only=only, references=references, watch=watch,
                   interval=interval, batch_size=batch_size, niceness=niceness, regate=regate, log=echo_err,
                   progress=progress, workers=workers)
    if run.interrupted:
        from sbs_tui.errors import Interrupted

        raise Interrupted(f"{run.pending:,} generation(s) still pending (sbs gate again goes on from there)")
    if run.rates is None:  # --watch: progress went to stderr only
        return
    runner = run.runner
    assert runner is not None  # a finished single pass always has its runner
    if fmt == "json":
        click.echo(json.dumps({"gates": [{"name": g.name, "scorer": g.scorer, "blocking": g.blocking,
                                          "threshold": runner.threshold(g), "languages": list(runner.languages(g)),
                                          "categories": list(runner.categories(g))} for g in runner.gates],
                               "models": run.rates, "unchecked": [u.as_dict() for u in run.unchecked]},
                              ensure_ascii=False))
    else:
        from sbs_tui.present.tables.gates import print_gate_rates, print_unchecked

        print_gate_rates(run.rates, [g.name for g in runner.gates])
        print_unchecked([u.sentence() for u in run.unchecked])


@gate_command.command("override")
@click.argument("generation_id", type=int)
@click.option("--pass", "decision", flag_value="passed", help="Let it through to annotators.")
@click.option("--block", "decision", flag_value="blocked", help="Keep it away from annotators.")
@click.option("--reason", required=True, help="Why (stored with who and when).")
@click.option("--by", "who", default=None, help="Who decides (default: $SBS_USER, else $USER).")
@click.pass_context
def gate_override_command(ctx: click.Context, generation_id: int, decision: str | None, reason: str,
                          who: str | None) -> None:
    """A lead's decision on one generation, over the gates' (the review app's Blocked tab does the same)."""
    from sbs_tui.core.gates.review import decide

    if decision is None:
        raise click.UsageError("say --pass or --block")
    store = ctx.obj.open_store()
    try:
        decided = decide(store, generation_id, decision, reason, who, queue_settings=ctx.obj.settings.queue)
    finally:
        store.close()
    click.echo(decided.line, err=True)


@gate_command.command("eval")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--gates", "gate_names", default=None, metavar="NAMES", help="Comma-separated gates to measure "
              "(default: the configured/default gates).")
@click.option("--reference", "references", multiple=True, type=click.Path(),
              help="Reference corpus for the memorization gate; repeatable.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def gate_eval_command(ctx: click.Context, file: str, gate_names: str | None, references: tuple[str, ...],
                      fmt: str) -> None:
    """Measure gates on labelled rows (FILE: generation rows + `label` toxic/benign, optional `language`):
    precision, recall, F1, false-block rate per language, and a threshold sweep."""
    import json

    from sbs_tui.cli_params import echo_err, parse_gate_names
    from sbs_tui.core.gates.evaluation import evaluate_file

    report = evaluate_file(file, ctx.obj.settings, only=parse_gate_names(gate_names), references=references,
                           log=echo_err)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        from sbs_tui.present.tables.gates import print_gate_eval

        print_gate_eval(report)

