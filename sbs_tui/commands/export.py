"""`sbs export votes [--out FILE]` — the contract vote format; the output re-imports to the same votes."""

from __future__ import annotations

import click


@click.group("export")
def export_group() -> None:
    """Export votes (contract JSONL/CSV) and other results."""


@export_group.command("votes")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Output file (.jsonl or .csv); stdout (JSONL) when omitted.")
@click.pass_context
def export_votes(ctx: click.Context, out_path: str | None) -> None:
    """Write every vote in the contract format (JSONL, or CSV by the file extension)."""
    from sbs_tui.core.export import write_votes

    store = ctx.obj.open_store()
    try:
        n = write_votes(store.iter_votes(), out_path)
    finally:
        store.close()
    click.echo(f"exported {n:,} votes" + (f" to {out_path}" if out_path else ""), err=True)
