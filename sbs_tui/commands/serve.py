"""``sbs serve``: the annotator app in a browser (textual-serve), listening on loopback unless told otherwise."""

from __future__ import annotations

import shlex
import sys

import click

from sbs_tui.errors import InputError


@click.command("serve")
@click.option("--annotator", required=True, help="Whose votes the browser session records.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Anything but loopback exposes the app to your network.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--public-url", default=None, help="URL the browser uses, when behind a proxy.")
@click.pass_obj
def serve_command(obj, annotator: str, host: str, port: int, public_url: str | None) -> None:
    """Serve the annotator app to a browser. Each browser tab runs `sbs annotate` in its own process."""
    from pathlib import Path

    if not annotator.strip():
        raise InputError("must not be empty", field="annotator")
    if not Path(obj.db_path).exists():
        raise InputError("database not found", file=obj.db_path)
    from textual_serve.server import Server

    parts = [sys.executable, "-m", "sbs_tui", "--db", str(Path(obj.db_path).resolve())]
    if obj.config_path:
        parts += ["--config", str(Path(obj.config_path).resolve())]
    parts += ["annotate", "--annotator", annotator]
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach it can vote as {annotator!r}", err=True)
    click.echo(f"serving the annotator app on http://{host}:{port} (Ctrl+C to stop)", err=True)
    Server(shlex.join(parts), host=host, port=port, title=f"sbs annotate — {annotator}",
           public_url=public_url).serve()
