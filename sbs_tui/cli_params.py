"""Option parsing shared by several commands (commands never import one another; what two of them parse alike
lives here, and what they do alike lives in the core)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def parse_gate_names(gate_names: str | None) -> list[str] | None:
    """``--gates a,b`` as a list (None when not given); an empty list is a usage error."""
    only = [n.strip() for n in gate_names.split(",") if n.strip()] if gate_names else None
    if gate_names is not None and not only:
        raise click.BadParameter("give at least one gate name", param_hint="--gates")
    return only


def echo_err(message: str) -> None:
    """Diagnostics (progress, summaries, scorer logs) go to stderr: stdout is for results only."""
    click.echo(message, err=True)


def rank_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The ranking options of ``sbs rank`` and ``sbs export rankings`` (the same request, written once)."""
    from sbs_tui.core.ranking.request import CIS, CONTROLS, ELO_ORDERS, METHODS
    from sbs_tui.core.views.scope import VOTERS, VOTERS_HELP

    options = [
        click.option("--method", type=click.Choice(METHODS), default="bt", show_default=True,
                     help="bt: Bradley-Terry MLE; elo: online Elo (order-dependent); trueskill; "
                          "winrate: AlpacaEval win rate against --baseline."),
        click.option("--baseline", default=None, metavar="MODEL",
                     help="Anchor model: sits at 1000 for bt/elo; the reference model for winrate (default there: the "
                          "most-compared model, as the review app picks it)."),
        click.option("--bootstrap", "rounds", type=click.IntRange(0, 100_000), default=1000, show_default=True,
                     help="Bootstrap rounds when the interval is the bootstrap."),
        click.option("--ci", type=click.Choice(CIS), default="auto", show_default=True,
                     help="Interval method for bt (elo/trueskill/winrate have their own; see docs/ranking.md). "
                          "auto: profile likelihood ∪ sandwich below 150 votes per model, else sandwich."),
        click.option("--control", type=click.Choice(CONTROLS), default="none", show_default=True,
                     help="length: length-controlled win rate (winrate) or length-controlled BT; "
                          "style: BT with length/header/list/bold covariates (Arena style control)."),
        click.option("--voters", type=click.Choice(VOTERS), default="auto", show_default=True, help=VOTERS_HELP),
        click.option("--annotator", "annotators", multiple=True, metavar="NAME",
                     help="Only votes by these annotators (repeatable)."),
        click.option("--category", default=None, help="Only votes on prompts of this category."),
        click.option("--include-flagged", is_flag=True,
                     help="Count votes flagged by annotators (excluded by default)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed for bootstrap / vote orders."),
        click.option("--elo-order", "elo_order", type=click.Choice(ELO_ORDERS), default="bootstrap",
                     show_default=True,
                     help="elo only: bootstrap = median over the shuffled bootstrap rounds (FastChat; inside its "
                          "interval); file = the stored order."),
        click.option("--orders", type=click.IntRange(1, 10_000), default=1, show_default=True,
                     help="elo --elo-order file only: average over this many random vote orders (1 = the stored "
                          "order)."),
        click.option("--k-factor", "k_factor", type=click.FloatRange(min=0, min_open=True), default=4.0,
                     show_default=True, help="elo only: K factor (Arena uses 4)."),
        click.option("--matrix", "with_matrix", is_flag=True,
                     help="Add votes-per-pair, empirical and predicted win-rate matrices."),
        # length-controlled win rate (issue 19): the frozen instruction difficulty and AlpacaEval's regularisation
        click.option("--difficulty", "difficulty", default=None, metavar="FILE",
                     help="winrate --control length: CSV instruction,difficulty (AlpacaEval's for its 805 "
                          "instructions). Default: the difficulty stored for the baseline, fitted once."),
        click.option("--refit-difficulty", "refit_difficulty", is_flag=True,
                     help="winrate --control length: refit the stored difficulty from the models present."),
        click.option("--gamed", "gamed", default=None, metavar="FILE",
                     help="winrate --control length: AlpacaEval annotations of the baseline against its verbose/"
                          "concise rewrites, to regularise as AlpacaEval does (default: unregularised)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def rank_request(*, method: str, baseline: str | None, rounds: int, ci: str, control: str,
                 annotators: tuple[str, ...], category: str | None, include_flagged: bool, seed: int, orders: int,
                 k_factor: float, with_matrix: bool, elo_order: str = "bootstrap", difficulty: str | None = None,
                 refit_difficulty: bool = False, gamed: str | None = None, voters: str = "auto") -> Any:
    """The parsed :func:`rank_options` as a :class:`~sbs_tui.core.ranking.request.RankRequest`."""
    from sbs_tui.core.ranking.request import RankRequest

    return RankRequest(method=method, baseline=baseline, rounds=rounds, ci=ci, control=control,
                       annotators=list(annotators) or None, category=category, include_flagged=include_flagged,
                       seed=seed, orders=orders, k_factor=k_factor, matrices=with_matrix,
                       elo_order=elo_order, difficulty=difficulty, refit_difficulty=refit_difficulty, gamed=gamed,
                       voters=voters)
