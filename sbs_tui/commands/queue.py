"""``sbs queue build`` / ``sbs queue status`` / ``sbs queue cap``: set up what annotators judge."""

from __future__ import annotations

import json

import click

from sbs_tui.errors import InputError


def _option(value, stored: dict, section: dict, key: str, default):
    """Command line, else what the queue was last built with, else ``[queue]`` in the config, else default."""
    if value is not None:
        return value
    if key in stored and stored[key] is not None:
        return stored[key]
    return section.get(key, default)


@click.group("queue")
def queue_group() -> None:
    """Build and inspect the judging queue."""


@queue_group.command("build")
@click.option("--overlap", type=int, default=None, help="Votes each pair collects (different annotators). [1]")
@click.option("--strategy", type=click.Choice(["uniform", "active"]), default=None,
              help="uniform: random order; active: pairs whose next vote most reduces ranking uncertainty first.")
@click.option("--seed", type=int, default=None, help="Seed for pair order and the side shown on the left. [0]")
@click.option("--gold-rate", type=float, default=None, help="Share of attention-check pairs served. [0]")
@click.option("--gold-from", default=None, metavar="ANNOTATOR",
              help="Annotator (e.g. an imported judge) whose confident votes define gold answers.")
@click.option("--cap", type=int, default=None, help="Default maximum votes per annotator.")
@click.option("--max-pairs-per-prompt", type=int, default=None, help="Sample at most this many pairs per prompt.")
@click.option("--focus-top", type=int, default=None, help="Active strategy: care most about the top K order.")
@click.option("--no-hold-back", is_flag=True, help="Do not hold back outputs that reveal their model's identity.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def build_command(obj, overlap, strategy, seed, gold_rate, gold_from, cap, max_pairs_per_prompt, focus_top,
                  no_hold_back, fmt) -> None:
    """Create pairs (two models, same prompt) for every prompt; re-run after importing more generations."""
    from sbs_tui.config import queue_section
    from sbs_tui.core.queue import BuildOptions, IdentityDetector, build_queue

    section = queue_section(obj.settings)
    detector = IdentityDetector.from_settings(section)
    if no_hold_back:
        detector = IdentityDetector(detector.patterns, enabled=False)
    with obj.open_store() as store:
        stored = store.queue.config()
        stored["cap"] = stored.pop("default_cap", None)
    options = BuildOptions(
        overlap=int(_option(overlap, stored, section, "overlap", 1)),
        strategy=str(_option(strategy, stored, section, "strategy", "uniform")),
        seed=int(_option(seed, stored, section, "seed", 0)),
        gold_rate=float(_option(gold_rate, stored, section, "gold_rate", 0.0)),
        gold_from=_option(gold_from, stored, section, "gold_from", None),
        cap=_option(cap, stored, section, "cap", None),
        max_pairs_per_prompt=_option(max_pairs_per_prompt, stored, section, "max_pairs_per_prompt", None),
        focus_top=_option(focus_top, stored, section, "focus_top", None),
        identity=detector,
    )
    if options.overlap < 1:
        raise InputError("must be at least 1", field="overlap")
    if not 0 <= options.gold_rate < 1:
        raise InputError("must be in [0, 1)", field="gold-rate")
    if options.strategy not in ("uniform", "active"):
        raise InputError("must be uniform or active", field="queue.strategy", file=obj.settings.source)
    if options.gold_rate > 0 and not options.gold_from:
        raise InputError("gold pairs need known answers: give --gold-from ANNOTATOR", field="gold-rate")
    with obj.open_store() as store:
        report = build_queue(store, options)
        if options.gold_from and report.gold == 0 and options.gold_rate > 0:
            click.echo(f"warning: no confident votes by {options.gold_from!r} match a pair; no gold pairs", err=True)
    out = {"new_pairs": report.new_pairs, "held_back_new": report.held_back, "gold_marked": report.gold,
           **report.summary, "held_back_examples": [{"pair_id": h.pair_id, "reason": h.reason} for h in
                                                     report.held_back_examples]}
    if fmt == "json":
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    s = report.summary
    click.echo(f"pairs: {s['pairs']} ({report.new_pairs} new), open: {s['open']}, gold: {s['gold']}, "
               f"held back (identity): {s['held_back']}")
    click.echo(f"gates: {s['gate_passed']} pairs passed, {s['gate_pending']} pending, {s['gate_blocked']} blocked")
    for held in report.held_back_examples[:5]:
        click.echo(f"  held back pair {held.pair_id}: {held.reason}", err=True)


@queue_group.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def status_command(obj, fmt) -> None:
    """Pairs, votes and gate state of the queue."""
    with obj.open_store() as store:
        summary = {**store.queue.summary(), "config": store.queue.config()}
    if fmt == "json":
        click.echo(json.dumps(summary))
    else:
        for key, value in summary.items():
            click.echo(f"{key:>14}: {value}")


@queue_group.command("cap")
@click.argument("annotator")
@click.argument("max_votes", type=int, required=False)
@click.pass_obj
def cap_command(obj, annotator, max_votes) -> None:
    """Limit ANNOTATOR to MAX_VOTES votes (omit MAX_VOTES to remove the cap)."""
    if max_votes is not None and max_votes < 0:
        raise InputError("must be ≥ 0", field="max_votes")
    with obj.open_store() as store:
        store.queue.set_cap(annotator, max_votes)
    click.echo(f"{annotator}: cap {'removed' if max_votes is None else max_votes}", err=True)


@queue_group.command("flags")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def flags_command(obj, fmt) -> None:
    """Pairs that annotators flagged, with their reasons (JSON: one object per line)."""
    with obj.open_store() as store:
        flagged = store.review.flagged_pairs()
    if fmt == "json":
        for row in flagged:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("pair", "annotator", "reason", "status", "prompt", "models", title=f"{len(flagged)} flagged")
    for row in flagged:
        table.add_row(str(row["pair_id"]), Text(row["annotator"]), Text(row["reason"] or ""), row["status"],
                      Text(row["prompt"][:60]), Text(f"{row['model_a']} vs {row['model_b']}"))
    Console().print(table)
