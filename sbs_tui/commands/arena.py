"""``sbs arena --annotator NAME``: live battles in this terminal (your prompt, two blinded models, your vote)."""

from __future__ import annotations

import click

from sbs_tui.errors import InputError


@click.command("arena")
@click.option("--annotator", required=True, help="Your name; your votes are stored under it.")
@click.pass_obj
def arena_command(obj, annotator: str) -> int:
    """Write a prompt; two of [arena] models answer it side by side as Model A / Model B; 1 A, 2 B, 3 tie,
    4 both bad, n new prompt, p a stored prompt, q quit."""
    from pathlib import Path

    if not annotator.strip():
        raise InputError("must not be empty", field="annotator")
    if not Path(obj.db_path).exists():
        raise InputError("database not found; create it first (e.g. `sbs import generations` or `sbs generate`)",
                         file=obj.db_path)
    from sbs_tui.core.generate.arena import load_arena

    settings = obj.settings
    load_arena(settings)  # a bad [arena] or [models.NAME] fails here, before the screen opens
    from sbs_tui.tui.arena import run_arena

    return run_arena(obj.db_path, annotator.strip(), settings, config_path=obj.config_path)
