"""``sbs backup FILE``: an online, verified copy of the database while annotators keep voting."""

from __future__ import annotations

import click


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False))
@click.pass_obj
def backup_command(obj, target: str) -> None:
    """Copy the database to TARGET as one consistent snapshot (VACUUM INTO, which writers cannot restart) and
    check the copy's integrity."""
    from pathlib import Path

    from sbs_tui.core.team import backup
    from sbs_tui.errors import InputError

    if not Path(obj.db_path).exists():
        raise InputError("database not found", file=obj.db_path)
    with obj.open_store() as store:
        size = backup(store, target)
    click.echo(f"backed up {obj.db_path} to {target} ({size:,} bytes, integrity ok)", err=True)
