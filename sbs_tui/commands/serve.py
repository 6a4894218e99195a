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

    obj.require_database("import generations and build the queue first")
    config = Path(obj.config_path) if obj.config_path else None
    arena = _arena_on(obj.settings)
    if annotator is not None:
        _serve_one(Path(obj.db_path), config, annotator, host, port, public_url, arena)
        return
    from sbs_tui.web.server import ServeOptions, serve

    with obj.open_store() as store:
        accounts = [a for a in store.accounts.all() if a.active]
    if not accounts:
        raise InputError("no annotator can sign in yet: add one with `sbs annotators add NAME`")
    if host not in LOOPBACK:
        click.echo(f"warning: listening on {host}: put it behind TLS (docs/serve.md)", err=True)
    options = ServeOptions(db_path=Path(obj.db_path), config_path=config, host=host, port=port,
                           public_url=public_url, max_sessions=max_sessions, arena=arena)
    click.echo(f"serving sbs for {len(accounts)} account(s) on {options.base_url} (Ctrl+C to stop)", err=True)
    serve(options)


def _arena_on(settings) -> bool:
    """``[arena] web``; when on, ``[arena]`` and its models are checked now, so a bad table fails before serving
    rather than in an annotator's browser."""
    if not settings.arena.web:
        return False
    from sbs_tui.core.arena import load_arena

    load_arena(settings)
    return True


def _serve_one(db: Path, config: Path | None, annotator: str, host: str, port: int, public_url: str | None,
               arena: bool = False) -> None:
    """The single-user mode: a one-person team. The same sign-in, tickets, Origin check and CSP as the team
    server, with a token made now (printed once, kept in memory only) instead of one from `sbs annotators add`."""
    from sbs_tui.core.team import personal_link
    from sbs_tui.web.server import ServeOptions, TeamServer, serve

    if not annotator.strip():
        raise InputError("must not be empty", field="annotator")
    if host not in LOOPBACK:
        click.echo(f"warning: listening on {host}: put it behind TLS (docs/serve.md)", err=True)
    options = ServeOptions(db_path=db, config_path=config, host=host, port=port, public_url=public_url,
                           max_sessions=2, solo=annotator.strip(), arena=arena)
    server = TeamServer(options)
    assert server.solo_token is not None
    click.echo(f"serving {annotator.strip()!r}'s annotator app (Ctrl+C to stop); open this link (valid until "
               "the server stops):", err=True)
    click.echo(personal_link(server.solo_token, host=host, port=port, public_url=public_url))
    serve(options, server=server)
