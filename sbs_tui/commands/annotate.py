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
    from sbs_tui.tui.annotate.app import EXIT_SAVE_SECONDS, run_annotator

    _die_with_server(EXIT_SAVE_SECONDS)

    return run_annotator(obj.db_path, annotator, settings, config_path=obj.config_path,
                         gate_watch=not no_gate_watch)


def _die_with_server(exit_save_seconds: float) -> None:
    """A session started by `sbs serve` (which sets SBS_PARENT_PID) ends when the server does, also after
    `kill -9`: the kernel's SIGTERM makes the app quit the normal way, saving a waiting vote first, and the
    lifeline ends the process if that takes longer than the app's own limit for it."""
    import signal

    from sbs_tui.core.lifeline import die_with_parent, parent_from_env

    parent = parent_from_env()
    if parent is not None:
        die_with_parent(parent, sig=signal.SIGTERM, grace=exit_save_seconds + 10)
