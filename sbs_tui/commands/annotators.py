"""``sbs annotators add|list|revoke``: who may sign in to ``sbs serve``, with which role."""

from __future__ import annotations

import click


@click.group("annotators")
def annotators_group() -> None:
    """Team accounts for `sbs serve`: tokens (stored hashed) and the lead role."""


@annotators_group.command("add")
@click.argument("name")
@click.option("--lead", is_flag=True, help="A lead's token also opens the review app.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Host for the printed link.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port for the printed link.")
@click.option("--public-url", default=None, help="Base URL for the printed link, when served behind a proxy.")
@click.pass_obj
def add_command(obj, name: str, lead: bool, host: str, port: int, public_url: str | None) -> None:
    """Create NAME (or give them a new token, revoking the old one) and print the token once."""
    from sbs_tui.core.team import enrol

    with obj.open_store() as store:
        enrolment = enrol(store, name, lead=lead, host=host, port=port, public_url=public_url)
    click.echo(f"token for {name!r} ({'lead' if lead else 'annotator'}) — shown once, store it now:", err=True)
    click.echo(enrolment.token)
    if enrolment.annotate_link is not None:
        click.echo(f"personal link (the review app): {enrolment.link}", err=True)
        click.echo(f"the annotator app: {enrolment.annotate_link}", err=True)
    else:
        click.echo(f"personal link: {enrolment.link}", err=True)


@annotators_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def list_command(obj, fmt: str) -> None:
    """Every account: role, when its token was issued, whether it was revoked."""
    import json

    from sbs_tui.core.team import list_annotators

    with obj.open_store() as store:
        accounts = list_annotators(store)
    rows = [{"name": a.name, "role": a.role, "created_at": a.created_at, "revoked_at": a.revoked_at}
            for a in accounts]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    from sbs_tui.present.tables.queue import print_accounts

    print_accounts(rows)


@annotators_group.command("revoke")
@click.argument("name")
@click.pass_obj
def revoke_command(obj, name: str) -> None:
    """Revoke NAME's token: their votes are refused at once, `sbs serve` closes their open sessions within a
    second, and new sign-ins are refused."""
    from sbs_tui.core.team import revoke_annotator

    with obj.open_store() as store:
        revoke_annotator(store, name)
    click.echo(f"revoked {name!r}", err=True)
