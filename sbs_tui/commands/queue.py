"""``sbs queue build`` / ``sbs queue status`` / ``sbs queue cap``: set up what annotators judge."""

from __future__ import annotations

import json

import click

from sbs_tui.cli_params import given, setting_option
from sbs_tui.core.settings import QUEUE_STRATEGIES, QueueSettings


@click.group("queue")
def queue_group() -> None:
    """Build and inspect the judging queue."""


_BUILD_OPTIONS = ("overlap", "strategy", "seed", "gold_rate", "gold_from", "cap", "max_pairs_per_prompt",
                  "focus_top")


@queue_group.command("build")
@setting_option(QueueSettings, "overlap", type=int)
@setting_option(QueueSettings, "strategy", type=click.Choice(QUEUE_STRATEGIES))
@setting_option(QueueSettings, "seed", type=int)
@setting_option(QueueSettings, "gold_rate", type=float)
@setting_option(QueueSettings, "gold_from", metavar="ANNOTATOR")
@setting_option(QueueSettings, "cap", type=int)
@setting_option(QueueSettings, "max_pairs_per_prompt", type=int)
@setting_option(QueueSettings, "focus_top", type=int)
@click.option("--no-hold-back", is_flag=True, help="Do not hold back outputs that reveal their model's identity.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def build_command(ctx: click.Context, no_hold_back: bool, fmt: str, **_options: object) -> None:
    """Create pairs (two models, same prompt) for every prompt; re-run after importing more generations.

    An option left out keeps what the queue was last built with, else the config's [queue] value, else the
    default shown."""
    from sbs_tui.core.queue.build import build_queue_from_settings

    obj = ctx.obj
    with obj.open_store() as store:
        report = build_queue_from_settings(store, given(ctx, *_BUILD_OPTIONS), obj.settings.queue,
                                           hold_back=not no_hold_back)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    out = {"new_pairs": report.new_pairs, "held_back_new": report.held_back, "gold_marked": report.gold,
           **report.summary, "generations_blocked": report.generations_blocked,
           "generations_held": report.generations_held, "held_back_examples": [{"pair_id": h.pair_id, "reason": h.reason} for h in
                                                     report.held_back_examples]}
    if fmt == "json":
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    s = report.summary
    click.echo(f"pairs: {s['pairs']:,} ({report.new_pairs:,} new), open: {s['open']:,}, gold: {s['gold']:,}, "
               f"held back (identity): {s['held_back']:,}")
    click.echo(f"gates: {s['gate_passed']:,} pairs passed, {s['gate_pending']:,} pending, "
               f"{s['gate_blocked']:,} blocked")
    if report.generations_blocked or report.generations_held:
        click.echo(f"generations: {report.generations_blocked:,} blocked by the gates, {report.generations_held:,} "
                   "held for review — not paired (pass one: sbs review tab 7, or sbs gate override ID --pass)")
    for held in report.held_back_examples[:5]:
        click.echo(f"  held back pair {held.pair_id}: {held.reason}", err=True)


@queue_group.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def status_command(obj, fmt) -> None:
    """Pairs, votes and gate state of the queue, and each annotator's progress (as the review app's Queue tab)."""
    from sbs_tui.core.views.queue import queue_view

    with obj.open_store() as store:
        view = queue_view(store, gating_required=obj.settings.gating.required)
    if fmt == "json":
        click.echo(json.dumps({**view.summary, "config": view.config}))
    else:
        from sbs_tui.present.tables.queue import print_queue_status

        print_queue_status(view)


@queue_group.command("cap")
@click.argument("annotator")
@click.argument("max_votes", type=int, required=False)
@click.pass_obj
def cap_command(obj, annotator, max_votes) -> None:
    """Limit ANNOTATOR to MAX_VOTES votes (omit MAX_VOTES to remove the cap)."""
    from sbs_tui.core.queue.admin import set_cap

    with obj.open_store() as store:
        set_cap(store, annotator, max_votes)
    click.echo(f"{annotator}: cap {'removed' if max_votes is None else max_votes}", err=True)


@queue_group.command("flags")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def flags_command(obj, fmt) -> None:
    """Pairs that annotators flagged, with their reasons (JSON: one object per line)."""
    from sbs_tui.core.queue.admin import flagged_pairs

    with obj.open_store() as store:
        flagged = flagged_pairs(store)
    if fmt == "json":
        for row in flagged:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    from sbs_tui.present.tables.queue import print_flags

    print_flags(flagged)
