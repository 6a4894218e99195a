"""`sbs rank` — ratings with confidence intervals from the stored votes (BT, online Elo, TrueSkill, win rate).

Only click and the standard library at import time: numpy/scipy load when the command runs.
"""

from __future__ import annotations

from typing import Any

import click

from sbs_tui.cli_params import one_blas_thread, rank_options, rank_request


@click.command("rank")
@rank_options
@click.option("--format", "fmt", type=click.Choice(("table", "json", "csv")), default="table", show_default=True)
@click.pass_context
def rank_command(ctx: click.Context, fmt: str, **options: Any) -> None:
    """Rank models from the stored votes, with 95% confidence intervals, best first.

    Ties and both-bad votes count half a win each; weighted (AlpacaEval) votes count with their weight.
    Ratings are on the Elo scale (1000 + 400·log10 odds), centred on 1000 or anchored at --baseline.
    """
    one_blas_thread()
    from sbs_tui.core.ranking.api import rank_stored
    from sbs_tui.present.text import escape

    ranking = rank_stored(lambda: ctx.obj.open_store(read_only=True), rank_request(**options))
    for warning in ranking.warnings:
        click.echo(f"warning: {escape(warning)}", err=True)
    emit(ranking, fmt)


def emit(ranking, fmt: str, stream=None) -> None:
    """Write the ranking as json, csv or a table; to ``stream`` (a text file) or stdout."""
    from sbs_tui.present.tables.rank import write_ranking

    write_ranking(ranking.to_json(), fmt, stream)
