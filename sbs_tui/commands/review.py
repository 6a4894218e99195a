"""``sbs review``: the lead's app — rankings, agreement, queue progress, gates and the funnel, in tabs."""

from __future__ import annotations

import click

from sbs_tui.core.ranking.request import CIS, CONTROLS, METHODS, RankRequest
from sbs_tui.core.scope import VOTERS, VOTERS_HELP
from sbs_tui.errors import InputError


@click.command("review")
@click.option("--method", type=click.Choice(METHODS), default="bt", show_default=True,
              help="Ranking method shown first (m cycles it in the app).")
@click.option("--baseline", default=None, metavar="MODEL", help="Anchor / reference model (b cycles it).")
@click.option("--ci", type=click.Choice(CIS), default="auto", show_default=True,
              help="Interval method for bt (c toggles it).")
@click.option("--control", type=click.Choice(CONTROLS), default="none", show_default=True,
              help="Length or style control (l cycles it).")
@click.option("--bootstrap", "rounds", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Bootstrap rounds for --ci bootstrap.")
@click.option("--voters", type=click.Choice(VOTERS), default="auto", show_default=True,
              help=VOTERS_HELP + " For every tab (v cycles it).")
@click.option("--refresh", "refresh", type=click.FloatRange(min=0), default=0, show_default=True, metavar="SECONDS",
              help="Recompute every tab this often (0: only when you press r).")
@click.option("--annotate-url", default=None, hidden=True, metavar="URL",
              help="Set by `sbs serve` for a lead: the annotator app's address, opened by a.")
@click.pass_obj
def review_command(obj, method: str, baseline: str | None, ci: str, control: str, rounds: int,
                   voters: str, refresh: float, annotate_url: str | None) -> int:
    """Read the evaluation: 1 ranking, 2 agreement, 3 queue, 4 gates & funnel; r refreshes, q quits."""
    obj.require_database("import votes or generations first: sbs import ...")
    settings = obj.settings
    from sbs_tui.cli_params import die_with_server

    die_with_server(5.0)  # a session of `sbs serve`: it ends with the server
    from sbs_tui.tui.review.app import make_review_app

    options = RankRequest(method=method, baseline=baseline, ci=ci, control=control, rounds=rounds,
                          voters=voters)
    if (problem := options.problem()) is not None:
        raise InputError(problem, field="--control")
    app = make_review_app(obj.db_path, settings, rank_options=options, auto_refresh=refresh,
                          annotate_url=annotate_url)
    app.run()
    return app.return_code or 0
