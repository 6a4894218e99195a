"""`sbs export votes [--out FILE]` — the contract vote format; the output re-imports to the same votes."""

from __future__ import annotations

from typing import Any

import click

from sbs_tui.cli_params import OutPath, one_blas_thread, rank_options, rank_request


@click.group("export")
def export_group() -> None:
    """Export votes (contract JSONL/CSV) and other results."""


@export_group.command("votes")
@click.option("--out", "out_path", type=OutPath(), default=None,
              help="Output file (.jsonl or .csv); stdout (JSONL) when omitted or -.")
@click.pass_context
def export_votes(ctx: click.Context, out_path: str | None) -> None:
    """Write every vote in the contract format (JSONL, or CSV by the file extension)."""
    from sbs_tui.core.io.export import export_votes

    store = ctx.obj.open_store(read_only=True)
    try:
        n = export_votes(store, out_path)
    finally:
        store.close()
    click.echo(f"exported {n:,} votes" + (f" to {out_path}" if out_path else ""), err=True)


@export_group.command("dpo")
@click.option("--out", "out_path", type=OutPath(), default=None,
              help="Output JSONL file; stdout when omitted or -.")
@click.option("--min-weight", type=click.FloatRange(0.5, 1.0), default=0.75, show_default=True,
              help="Leave out weighted votes whose winner's share is below this (AlpacaEval preferences near 1.5 "
                   "are close calls, not preferences).")
@click.pass_context
def export_dpo(ctx: click.Context, out_path: str | None, min_weight: float) -> None:
    """Write preference pairs {prompt, chosen, rejected, ...} (JSONL) from votes with a clear winner.

    Ties, both-bad and flagged votes are left out, as are votes with no output for one side (outputs come from
    the vote itself, else from the stored generations). Each vote gives one pair.
    """
    from sbs_tui.core.io.export import write_preference_pairs

    store = ctx.obj.open_store(read_only=True)
    try:
        n, skipped = write_preference_pairs(store, out_path, min_weight=min_weight)
    finally:
        store.close()
    detail = "; ".join(f"{count:,} {why}" for why, count in sorted(skipped.items()))
    click.echo(f"exported {n:,} preference pairs" + (f" to {out_path}" if out_path else "")
               + (f" (left out: {detail})" if detail else ""), err=True)


@export_group.command("rankings", help="Export a ranking (same options as `sbs rank`) as JSON or CSV.")
@rank_options
@click.option("--out", "out_path", type=OutPath(), default=None,
              help="Output file: .csv for CSV, anything else JSON (the `sbs rank --format json` document); "
                   "stdout when omitted or -.")
@click.pass_context
def export_rankings(ctx: click.Context, out_path: str | None, **options: Any) -> None:
    one_blas_thread()
    from sbs_tui.core.ranking.export import export_ranking
    from sbs_tui.present.tables.rank import write_ranking
    from sbs_tui.present.text import escape

    ranking = export_ranking(lambda: ctx.obj.open_store(read_only=True), rank_request(**options), out_path,
                             write_ranking)
    for warning in ranking.warnings:
        click.echo(f"warning: {escape(warning)}", err=True)
    if out_path:
        click.echo(f"exported the {ranking.method} ranking of {len(ranking.models)} models to {out_path}",
                   err=True)
