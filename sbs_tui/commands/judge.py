"""`sbs judge` — an LLM judge's pairwise votes (both orders), stored as that annotator (kind judge).

Thin: options → :func:`sbs_tui.core.judge.judging.judge_config` (``[judge]`` table + flags) →
:func:`sbs_tui.core.judge.judging.run_judge` → a summary on stderr (JSON on stdout with ``--format json``).
"""

from __future__ import annotations

import click

from sbs_tui.cli_params import given, setting_option
from sbs_tui.core.settings import JudgeSettings


_SETTING_OPTIONS = ("base_url", "model", "annotator", "concurrency", "template", "backend", "requests_per_minute",
                    "tokens_per_minute")


@click.command("judge")
@setting_option(JudgeSettings, "base_url", metavar="URL")
@setting_option(JudgeSettings, "model", metavar="NAME")
@setting_option(JudgeSettings, "annotator", metavar="NAME")
@click.option("--pairs", "pair_source", type=click.Choice(["queue", "baseline"]), default="queue",
              show_default=True, help="The annotation queue's pairs, or every model against --baseline.")
@click.option("--baseline", default=None, metavar="MODEL", help="The reference model for --pairs baseline.")
@setting_option(JudgeSettings, "concurrency", type=int)
@click.option("--limit", default=None, type=click.IntRange(1), help="Judge at most N pairs.")
@setting_option(JudgeSettings, "template", metavar="NAME|FILE")
@setting_option(JudgeSettings, "backend", type=click.Choice(["api", "local"]))
@setting_option(JudgeSettings, "requests_per_minute", type=float)
@setting_option(JudgeSettings, "tokens_per_minute", type=float)
@click.option("--no-logprobs", "no_logprobs", is_flag=True, default=None,
              help="Do not ask for log-probabilities (for endpoints that refuse them): discrete votes only.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
@click.pass_context
def judge_command(ctx: click.Context, pair_source, baseline, limit, no_logprobs, fmt, show_progress,
                  **_settings: object) -> None:
    """Ask an LLM judge to compare each pair in both orders and store its verdicts as votes (weighted by the
    verdict tokens' probabilities when the endpoint returns them). Cached and resumable: a rerun asks only
    what is missing. The API key is read from the variable [judge] api_key_env names ($OPENAI_API_KEY)."""
    import json
    import sys

    from sbs_tui.cli_params import interruptible
    from sbs_tui.core.judge.judging import judge_with_settings
    from sbs_tui.errors import ExitCode
    from sbs_tui.progress import CountProgress

    overrides = {**given(ctx, *_SETTING_OPTIONS), "logprobs": False if no_logprobs else None}
    bar = CountProgress("judging", unit="req", enabled=sys.stderr.isatty() if show_progress is None else show_progress)
    with bar, interruptible(lambda: f"{bar.remaining:,} judge request(s) not answered; verdicts so far are "
                                    "kept and the same command resumes"):
        report = judge_with_settings(ctx.obj.open_store, ctx.obj.settings.judge, overrides, pairs=pair_source,
                                     baseline=baseline, limit=limit, progress=bar.advance, on_total=bar.start)
    if report.pairs == 0:
        hint = ("build the queue first (sbs queue build) or use --pairs baseline --baseline MODEL"
                if pair_source == "queue" else f"no other model answered {baseline!r}'s prompts")
        click.echo(f"warning: no pairs to judge: {hint}", err=True)
    doc = report.as_dict()
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    from sbs_tui.present.text import escape as escape_controls

    cost = f", cost {report.cost:.4f}" if report.cost is not None else ""
    click.echo(f"{escape_controls(report.annotator)}: {report.pairs:,} pair(s), {report.asked:,} request(s) sent "
               f"({report.cached_orders:,} order(s) cached), {report.votes_written:,} new vote(s) "
               f"[{report.weighted:,} weighted, {report.discrete:,} discrete, {report.orders_disagree:,} with orders "
               f"disagreeing, {report.unparseable:,} unparseable]; tokens {report.tokens_in:,} in / "
               f"{report.tokens_out:,} out{cost}; {report.seconds:.1f}s", err=True)
    if report.warning:
        click.echo(f"warning: {report.warning}", err=True)
    if report.failure:
        click.echo(f"error: {report.failure} — run the same command again to retry them", err=True)
        ctx.exit(ExitCode.CHECK_FAILED)
