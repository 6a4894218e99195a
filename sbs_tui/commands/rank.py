"""`sbs rank` — ratings with confidence intervals from the stored votes (BT, online Elo, TrueSkill, win rate).

Only click and the standard library at import time: numpy/scipy load when the command runs.
"""

from __future__ import annotations

import click

from sbs_tui.errors import InputError

METHODS = ("bt", "elo", "trueskill", "winrate")


@click.command("rank")
@click.option("--method", type=click.Choice(METHODS), default="bt", show_default=True,
              help="bt: Bradley-Terry MLE; elo: online Elo (order-dependent); trueskill; "
                   "winrate: AlpacaEval win rate against --baseline.")
@click.option("--baseline", default=None, metavar="MODEL",
              help="Anchor model: sits at 1000 for bt/elo; the reference model for winrate (required there).")
@click.option("--bootstrap", "rounds", type=click.IntRange(0, 100_000), default=1000, show_default=True,
              help="Bootstrap rounds for --ci bootstrap.")
@click.option("--ci", type=click.Choice(("bootstrap", "sandwich")), default="bootstrap", show_default=True,
              help="Interval method for bt (elo/trueskill/winrate have their own; see docs/ranking.md).")
@click.option("--control", type=click.Choice(("none", "length", "style")), default="none", show_default=True,
              help="length: length-controlled win rate (winrate) or length-controlled BT; "
                   "style: BT with length/header/list/bold covariates (Arena style control).")
@click.option("--annotator", "annotators", multiple=True, metavar="NAME",
              help="Only votes by these annotators (repeatable).")
@click.option("--category", default=None, help="Only votes on prompts of this category.")
@click.option("--include-flagged", is_flag=True, help="Count votes flagged by annotators (excluded by default).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for bootstrap / vote orders.")
@click.option("--orders", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="elo only: average over this many random vote orders (1 = the stored order).")
@click.option("--k-factor", "k_factor", type=click.FloatRange(min=0, min_open=True), default=4.0,
              show_default=True, help="elo only: K factor (Arena uses 4).")
@click.option("--matrix", "with_matrix", is_flag=True,
              help="Add votes-per-pair, empirical and predicted win-rate matrices.")
@click.option("--format", "fmt", type=click.Choice(("table", "json", "csv")), default="table", show_default=True)
@click.pass_context
def rank_command(ctx: click.Context, method: str, baseline: str | None, rounds: int, ci: str, control: str,
                 annotators: tuple[str, ...], category: str | None, include_flagged: bool, seed: int,
                 orders: int, k_factor: float, with_matrix: bool, fmt: str) -> None:
    """Rank models from the stored votes, with 95% confidence intervals, best first.

    Ties and both-bad votes count half a win each; weighted (AlpacaEval) votes count with their weight.
    Ratings are on the Elo scale (1000 + 400·log10 odds), centred on 1000 or anchored at --baseline.
    """
    ranking = compute_ranking(ctx, method, baseline, rounds, ci, control, annotators, category, include_flagged,
                              seed, orders, k_factor, with_matrix)
    emit(ranking, fmt)


def compute_ranking(ctx: click.Context, method: str, baseline: str | None, rounds: int, ci: str, control: str,
                    annotators: tuple[str, ...], category: str | None, include_flagged: bool, seed: int,
                    orders: int, k_factor: float, with_matrix: bool):
    """Validate the options, rank, and report warnings on stderr (shared by `sbs export rankings`)."""
    if method == "winrate" and baseline is None:
        raise InputError("--method winrate needs --baseline MODEL", field="--baseline")
    if control != "none" and method in ("elo", "trueskill"):
        raise InputError(f"--control {control} applies to --method bt or winrate", field="--control")
    if control == "style" and method == "winrate":
        raise InputError("--control style applies to --method bt (use --control length for winrate)",
                         field="--control")
    from sbs_tui.core.ranking.api import RankRequest, run_ranking

    request = RankRequest(method=method, baseline=baseline, rounds=rounds, ci=ci, control=control,
                          annotators=list(annotators) or None, category=category,
                          include_flagged=include_flagged, seed=seed, orders=orders, k_factor=k_factor,
                          matrices=with_matrix)
    store = ctx.obj.open_store()
    try:
        ranking = run_ranking(store, request)
    except KeyError as exc:
        raise InputError(f"no votes involve model {exc.args[0]!r}", field="--baseline") from None
    finally:
        store.close()
    from sbs_tui.present.text import escape

    for warning in ranking.warnings:
        click.echo(f"warning: {escape(warning)}", err=True)
    return ranking


def emit(ranking, fmt: str, stream=None) -> None:
    """Write the ranking as json, csv or a table; to ``stream`` (a text file) or stdout."""
    from sbs_tui.present.tables import write_ranking

    write_ranking(ranking.to_json(), fmt, stream)
