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
        n = write_votes(store.exports.votes(), out_path)
    finally:
        store.close()
    click.echo(f"exported {n:,} votes" + (f" to {out_path}" if out_path else ""), err=True)


@export_group.command("dpo")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Output JSONL file; stdout when omitted.")
@click.option("--min-weight", type=click.FloatRange(0.5, 1.0), default=0.75, show_default=True,
              help="Leave out weighted votes whose winner's share is below this (AlpacaEval preferences near 1.5 "
                   "are close calls, not preferences).")
@click.pass_context
def export_dpo(ctx: click.Context, out_path: str | None, min_weight: float) -> None:
    """Write preference pairs {prompt, chosen, rejected, ...} (JSONL) from votes with a clear winner.

    Ties, both-bad and flagged votes are left out, as are votes with no output for one side (outputs come from
    the vote itself, else from the stored generations). Each vote gives one pair.
    """
    from sbs_tui.core.export import atomic_output, write_jsonl

    skipped: dict[str, int] = {}
    store = ctx.obj.open_store()
    try:
        with atomic_output(out_path) as fh:
            n = write_jsonl(store.exports.preference_pairs(min_weight=min_weight, skipped=skipped), fh)
    finally:
        store.close()
    detail = "; ".join(f"{count:,} {why}" for why, count in sorted(skipped.items()))
    click.echo(f"exported {n:,} preference pairs" + (f" to {out_path}" if out_path else "")
               + (f" (left out: {detail})" if detail else ""), err=True)


def _rankings_command() -> click.Command:
    """`sbs export rankings`: `sbs rank`'s options, written to a file (JSON, or CSV by the extension)."""
    from sbs_tui.commands.rank import rank_command

    params = [p for p in rank_command.params if p.name != "fmt"]

    @click.pass_context
    def callback(ctx: click.Context, out_path: str | None, **options) -> None:
        from sbs_tui.commands.rank import compute_ranking, emit
        from sbs_tui.core.export import atomic_output

        ranking = compute_ranking(ctx, **options)
        fmt = "csv" if out_path and out_path.lower().endswith(".csv") else "json"
        with atomic_output(out_path) as fh:
            emit(ranking, fmt, fh)
        if out_path:
            click.echo(f"exported the {ranking.method} ranking of {len(ranking.models)} models to {out_path}",
                       err=True)

    out = click.Option(["--out", "out_path"], type=click.Path(dir_okay=False), default=None,
                       help="Output file: .csv for CSV, anything else JSON (the `sbs rank --format json` document); "
                            "stdout when omitted.")
    return click.Command("rankings", params=[*params, out], callback=callback,
                         help="Export a ranking (same options as `sbs rank`) as JSON or CSV.")


export_group.add_command(_rankings_command())
