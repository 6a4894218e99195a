"""``sbs annotate --annotator NAME``: the blind side-by-side judging app in this terminal."""

from __future__ import annotations

import click

from sbs_tui.errors import InputError


@click.command("annotate")
@click.option("--annotator", required=True, help="Your name; your votes, progress and resume point are kept under it.")
@click.option("--no-gate-watch", is_flag=True,
              help="Do not start background gating of pending generations (`sbs gate --watch`).")
@click.pass_obj
def annotate_command(obj, annotator: str, no_gate_watch: bool) -> int:
    """Judge pairs of answers: 1 left, 2 right, 3 tie, 4 both bad, u undo, s skip, f flag, r rationale, q quit."""
    if not annotator.strip():
        raise InputError("must not be empty", field="annotator")
    obj.require_database("import generations and run `sbs queue build` first")
    settings = obj.settings
    from sbs_tui.cli_params import die_with_server
    from sbs_tui.tui.annotate.app import EXIT_SAVE_SECONDS, run_annotator

    die_with_server(EXIT_SAVE_SECONDS + 10)  # under `sbs serve`: quit (saving a waiting vote) when it ends

    return run_annotator(obj.db_path, annotator, settings, config_path=obj.config_path,
                         gate_watch=not no_gate_watch)
