"""``sbs serve``: the team's one URL (token sign-in, an app per browser session), or one annotator's app.

Loopback by default: binding another interface exposes the server to the network, so put it behind a reverse
proxy with TLS (see docs/serve.md) and pass ``--public-url``.
"""

from __future__ import annotations

import click

from sbs_tui.errors import InputError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command("serve")
@click.option("--annotator", default=None,
              help="Serve only this annotator's app, with no sign-in (single-user, loopback use).")
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
    personal link); a lead's token also opens the review app at /?app=review."""
    from pathlib import Path

    obj.require_database("import generations and build the queue first")
    config = Path(obj.config_path) if obj.config_path else None
    if annotator is not None:
        _serve_one(Path(obj.db_path), config, annotator, host, port, public_url)
        return
    from sbs_tui.web.server import ServeOptions, serve

    with obj.open_store() as store:
        accounts = [a for a in store.accounts.all() if a.active]
    if not accounts:
        raise InputError("no annotator can sign in yet: add one with `sbs annotators add NAME`")
    if host not in LOOPBACK:
        click.echo(f"warning: listening on {host}: put it behind TLS (docs/serve.md)", err=True)
    options = ServeOptions(db_path=Path(obj.db_path), config_path=config, host=host, port=port,
                           public_url=public_url, max_sessions=max_sessions)
    click.echo(f"serving sbs for {len(accounts)} account(s) on {options.base_url} (Ctrl+C to stop)", err=True)
    serve(options)


def _serve_one(db: object, config: object, annotator: str, host: str, port: int, public_url: str | None) -> None:
    """The single-user mode: one annotator's app, no sign-in (as before team serving)."""
    import shlex
    import sys
    from pathlib import Path

    if not annotator.strip():
        raise InputError("must not be empty", field="annotator")
    from textual_serve.server import Server

    parts = [sys.executable, "-m", "sbs_tui", "--db", str(Path(str(db)).resolve())]
    if config:
        parts += ["--config", str(Path(str(config)).resolve())]
    parts += ["annotate", "--annotator", annotator]
    if host not in LOOPBACK:
        click.echo(f"warning: listening on {host}: anyone who can reach it can vote as {annotator!r}", err=True)
    click.echo(f"serving the annotator app on http://{host}:{port} (Ctrl+C to stop)", err=True)
    Server(shlex.join(parts), host=host, port=port, title=f"sbs annotate — {annotator}",
           public_url=public_url).serve()
