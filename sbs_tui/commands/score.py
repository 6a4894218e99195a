"""`sbs score [FILE...]` — headless batch scoring for pipelines, with or without a database.

Output contract (one object per generation, JSONL or CSV): the input fields, plus ``scores`` (gate → number),
``blocked`` (bool) and ``reasons`` (the blocking gates that failed, with score and threshold).

Why resumable: scoring 100k generations with a transformer takes hours; a killed run must not start over. Each
batch is flushed as whole lines, and a rerun with the same ``--out`` skips the generations already there
(identified by prompt, model and output text) — a torn last line from a crash is cut off first.
"""

from __future__ import annotations

import click

from sbs_tui.cli_params import OutPath

BATCH = 64  # generations scored and flushed per batch (--batch-size)


def _gates_epilog() -> str:
    """The built-in gates, from their one description (``scorers.base.ScorerInfo``)."""
    from scorers.base import BUILTIN_INFO, ENABLED_WHEN

    lines = ["\b", "Gates (blocking ones keep generations from annotators):"]
    for info in BUILTIN_INFO:
        langs = "any language" if "*" in info.languages else "/".join(info.languages)
        checks = f"; checks {', '.join(info.categories)}" if info.categories else ""
        lines.append(f"  {info.name:<13} {'blocking' if info.blocking else 'informational':<13} "
                     f"{info.threshold}; runs: {ENABLED_WHEN[info.enabled]}; reads {langs}{checks}")
    lines.append("Rows also get 'language', 'uncovered' (no blocking gate reads that language) and 'unchecked' "
                 "(safety categories no blocking gate checked in that language; see docs/gates.md).")
    return "\n".join(lines)


@click.command("score", epilog=_gates_epilog())
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--gates", "gate_names", default=None, metavar="NAMES",
              help="Comma-separated gates to run (default: the configured/default gates).")
@click.option("--out", "out_path", type=OutPath(), default=None,
              help="Write results here (JSONL, or CSV for *.csv); resumes a partial file. Default (or -): stdout.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default=None,
              help="Output format (default: from the --out extension, else jsonl).")
@click.option("--reference", "references", multiple=True, type=click.Path(),
              help="Reference corpus (file or folder) for the memorization gate; repeatable.")
@click.option("--fail-on-block", is_flag=True, help="Exit 1 if any generation is blocked.")
@click.option("--details", "with_details", is_flag=True, help="Add each gate's details (worst sentence, matched "
              "span, categories) under 'details'.")
@click.option("--batch-size", default=BATCH, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process; ray: an actor pool per gate on Ray (pip install \"sbs-tui[ray]\"), "
                   "same output.")
@click.option("--address", default=None, metavar="ADDR",
              help="With --engine ray: join this cluster (ray://HOST:10001 or auto); default: start Ray here.")
@click.option("--workers", default=None, type=click.IntRange(1),
              help="With --engine ray: actors per gate (default: one per CPU; one per GPU for cuda gates).")
@click.pass_context
def score_command(ctx: click.Context, files: tuple[str, ...], gate_names: str | None, out_path: str | None,
                  fmt: str | None, references: tuple[str, ...], fail_on_block: bool,
                  with_details: bool, batch_size: int, show_progress: bool | None, engine: str,
                  address: str | None, workers: int | None) -> None:
    """Score generations from FILEs (JSONL/JSON/CSV, contract or AlpacaEval rows), or the database's
    generations when no FILE is given."""
    import sys

    from sbs_tui.cli_params import echo_err, interruptible, parse_gate_names
    from sbs_tui.core.gates.run import score_with_policy
    from sbs_tui.errors import ExitCode
    from sbs_tui.progress import CountProgress

    only = parse_gate_names(gate_names)
    settings = ctx.obj.settings

    progress = CountProgress("scoring", enabled=sys.stderr.isatty() if show_progress is None else show_progress)
    resume = " (the same command with --out resumes)" if out_path else ""
    with progress, interruptible(lambda: f"{progress.remaining:,} generation(s) not scored{resume}"):
        # the gate policy is built first inside: a bad config fails before any output is written
        summary = score_with_policy(settings, files, only=only, references=references, log=echo_err,
                                    open_store=ctx.obj.open_store, out_path=out_path, fmt=fmt,
                                    with_details=with_details, batch_size=batch_size, progress=progress,
                                    engine=engine, address=address, workers=workers)
    rate = summary.scored / progress.seconds if progress.seconds > 0 else 0.0
    extra = f", {summary.skipped:,} already in the output" if summary.skipped else ""
    click.echo(f"scored {summary.scored:,} generation(s) in {progress.seconds:.1f}s ({rate:,.0f}/s){extra}; "
               f"{summary.blocked:,} blocked", err=True)
    for line in summary.unchecked:  # diagnostics: stderr, so piped JSONL stays clean
        echo_err(f"unchecked: {line.sentence()}")
    if fail_on_block and summary.blocked:
        ctx.exit(ExitCode.CHECK_FAILED)

