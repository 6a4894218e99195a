"""`sbs funnel` — benchmarks, gates, side-by-side votes and A/B results per model, and how far they agree."""

from __future__ import annotations

import click

from sbs_tui.core.scope import VOTERS, VOTERS_HELP


@click.command("funnel")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Significance level for the A/B comparisons.")
@click.option("--lower-better", "lower_better", multiple=True, metavar="METRIC",
              help="An A/B metric where lower is better (e.g. latency); repeatable.")
@click.option("--voters", type=click.Choice(VOTERS), default="auto", show_default=True,
              help=VOTERS_HELP + " (the side-by-side stage; as `sbs rank` and `sbs review` count them)")
@click.pass_context
def funnel_command(ctx: click.Context, fmt: str, alpha: float, lower_better: tuple[str, ...], voters: str) -> None:
    """The three stages side by side per model, with rank correlations and plain statements of disagreement."""
    import json

    from sbs_tui.core.views.funnel import funnel_view

    store = ctx.obj.open_store(read_only=True)
    try:
        view = funnel_view(store, alpha=alpha, lower_better=lower_better, voters=voters)
    finally:
        store.close()
    if not view.rows:
        click.echo("nothing to show: import benchmarks, votes or A/B results first", err=True)
    if fmt == "json":
        click.echo(json.dumps(view.doc, ensure_ascii=False, allow_nan=False))
        return
    from sbs_tui.present.tables.funnel import print_funnel

    print_funnel(view)
