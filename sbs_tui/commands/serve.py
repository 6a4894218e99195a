"""``sbs serve``: the team's one URL (token sign-in, an app per browser session), or one annotator's app.

Loopback by default: binding another interface exposes the server to the network, so put it behind a reverse
proxy with TLS (see docs/serve.md) and pass ``--public-url``.
"""

from __future__ import annotations

from pathlib import Path

import click

from sbs_tui.errors import InputError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command("serve")
@click.option("--annotator", default=None,
              help="A one-person team: serve only this annotator's app; prints a sign-in link made at start-up.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Anything but loopback exposes the server to your network.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--public-url", default=None, help="URL the browsers use, when behind a reverse proxy (https://…).")
@click.option("--max-sessions", default=64, show_default=True, type=click.IntRange(1, 10_000),
              help="Most browser sessions at once (each runs one app process).")
@click.pass_obj
def serve_command(obj, annotator: str | None, host: str, port: int, public_url: str | None,
                  max_sessions: int) -> None:
    """Serve the apps to browsers. Annotators sign in with the token from `sbs annotators add` (or open their
    personal link); a lead's token also opens the review app at /?app=review; with [arena] web = true, anyone's
    opens the live arena at /?app=arena."""
    from sbs_tui.cli_params import echo_err
    from sbs_tui.web.server import ServeOptions
    from sbs_tui.web.start import start_server

    obj.require_database("import generations and build the queue first")
    if annotator is not None and not annotator.strip():
        raise InputError("must not be empty", field="annotator")
    solo = annotator.strip() if annotator is not None else None
    if host not in LOOPBACK:
        click.echo(f"warning: listening on {host}: put it behind TLS (docs/serve.md)", err=True)
    options = ServeOptions(db_path=Path(obj.db_path), config_path=Path(obj.config_path) if obj.config_path else None,
                           host=host, port=port, public_url=public_url,
                           max_sessions=2 if solo is not None else max_sessions, solo=solo,
                           arena=obj.settings.arena.web)
    start_server(options, settings=obj.settings, open_store=obj.open_store, note=echo_err, say=click.echo)
