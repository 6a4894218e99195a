"""``sbs arena --annotator NAME``: live battles in this terminal (your prompt, two blinded models, your vote);
``sbs arena status``: the campaign's arena budget and battles, for the lead."""

from __future__ import annotations

import json

import click

from sbs_tui.errors import InputError


@click.group("arena", invoke_without_command=True)
@click.option("--annotator", default=None, help="Your name; your votes are stored under it (required to battle).")
@click.pass_context
def arena_command(ctx: click.Context, annotator: str | None) -> int | None:
    """Write a prompt; two of [arena] models answer it side by side as Model A / Model B; 1 A, 2 B, 3 tie,
    4 both bad, n new prompt, p a stored prompt, q quit. `sbs arena status` shows the budget left."""
    if ctx.invoked_subcommand is not None:
        if annotator is not None:
            raise InputError(f"--annotator starts a battle; `sbs arena {ctx.invoked_subcommand}` takes none",
                             field="annotator")
        return None
    from pathlib import Path

    obj = ctx.obj
    if annotator is None:
        raise InputError("missing: sbs arena --annotator NAME (or `sbs arena status`)", field="annotator")
    if not annotator.strip():
        raise InputError("must not be empty", field="annotator")
    if not Path(obj.db_path).exists():
        raise InputError("database not found; create it first (e.g. `sbs import generations` or `sbs generate`)",
                         file=obj.db_path)
    settings = obj.settings
    from sbs_tui.tui.arena import run_arena  # a bad [arena] or [models.NAME] fails there, before the screen opens

    return run_arena(obj.db_path, annotator.strip(), settings, config_path=obj.config_path)


@arena_command.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def status_command(obj, fmt: str) -> None:
    """The campaign's arena spending against [arena] budget, and its battles by outcome (for the lead)."""
    from sbs_tui.core.generate.arena_ledger import budget_status

    obj.require_database("start a battle with `sbs arena --annotator NAME` first")
    with obj.open_store() as store:
        status = budget_status(store, obj.settings)
    out = status.as_json()
    if fmt == "json":
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    from sbs_tui.present.arena import budget_lines

    for line in budget_lines(out):
        click.echo(line)
