"""Option parsing shared by several commands (commands never import one another; what two of them parse alike
lives here, and what they do alike lives in the core)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click


class OutPath(click.Path):
    """``--out FILE`` for every command that writes a file; ``-`` means stdout, as leaving it out does (the
    callback sees ``None``)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return None if value == "-" else super().convert(value, param, ctx)


def parse_gate_names(gate_names: str | None) -> list[str] | None:
    """``--gates a,b`` as a list (None when not given); an empty list is a usage error."""
    only = [n.strip() for n in gate_names.split(",") if n.strip()] if gate_names else None
    if gate_names is not None and not only:
        raise click.BadParameter("give at least one gate name", param_hint="--gates")
    return only


def setting_option(section: type, name: str, *decls: str, **kwargs: Any) -> Callable[..., Any]:
    """An option that overrides one setting of ``section`` (a :mod:`sbs_tui.core.settings` class). Its default
    and help come from the schema, so ``--help`` shows the real default without writing it again; the callback
    passes on only what was typed (:func:`given`), so the config file still applies under the command line."""
    from sbs_tui.core.settings import TABLE_SECTIONS, default_of, doc_of

    default = default_of(section, name)
    doc = doc_of(section, name)
    table = getattr(section, "SECTION") + (".NAME" if section in TABLE_SECTIONS.values() else "")
    kwargs.setdefault("help", f"{doc} (config: [{table}] {name}; the flag wins).")
    flag = "--" + name.replace("_", "-")
    return click.option(*(decls or (flag,)), name, default=default, show_default=default is not None, **kwargs)


def given(ctx: click.Context, *names: str) -> dict[str, Any]:
    """The options of ``names`` the user typed (on the line or through an environment variable), not click's
    defaults: what overrides the settings. An untyped option is left out."""
    from click.core import ParameterSource

    return {n: ctx.params[n] for n in names
            if ctx.get_parameter_source(n) not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)}


@contextmanager
def interruptible(left: Callable[[], str]) -> Iterator[None]:
    """Ctrl+C inside becomes one line, ``interrupted: <left()>``, and exit 130 (``errors.Interrupted``)."""
    from sbs_tui.errors import Interrupted

    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(left()) from None


def die_with_server(grace: float) -> None:
    """A session started by `sbs serve` (which sets SBS_PARENT_PID) ends when the server does, also after
    `kill -9`: the kernel's SIGTERM makes the app quit the normal way, and the lifeline ends the process if that
    takes longer than ``grace`` seconds. Process plumbing shared by the app commands, like :func:`interruptible`."""
    import signal

    from sbs_tui.core.lifeline import die_with_parent, parent_from_env

    if (parent := parent_from_env()) is not None:
        die_with_parent(parent, sig=signal.SIGTERM, grace=grace)


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """Let numpy's BLAS run on the calling thread only, unless the user chose (one of
    :data:`BLAS_THREAD_VARIABLES` set). Call before numpy is imported; afterwards it changes nothing.

    Why, for the commands that fit rankings (``sbs rank``, ``sbs export rankings``, ``sbs report``): their matrices
    are models × models (a few hundred rows at most), where BLAS threads buy nothing, yet OpenBLAS starts a spinning
    thread per core at its first call — 40 ms of CPU, and 0.1–0.2 s of wall on a busy machine, in a ``sbs rank`` of
    ~0.3 s — and those threads compete with the bootstrap's own worker threads. The results do not change (the same
    kernels, one thread). Measured at 1M votes (``bench/bench_blas_threads.py``): ``sbs export rankings`` 0.69× CPU,
    ``sbs report`` 0.85× CPU; ``sbs agreement`` gained nothing beyond the noise (it multiplies no matrices), so it
    is left as it is."""
    import os
    import sys

    if "numpy" not in sys.modules and not any(os.environ.get(v) for v in BLAS_THREAD_VARIABLES):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"


def echo_err(message: str) -> None:
    """Diagnostics (progress, summaries, scorer logs) go to stderr: stdout is for results only."""
    click.echo(message, err=True)


def rank_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The ranking options of ``sbs rank`` and ``sbs export rankings`` (the same request, written once)."""
    from sbs_tui.core.ranking.request import CIS, CONTROLS, ELO_ORDERS, METHODS
    from sbs_tui.core.scope import VOTERS, VOTERS_HELP

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
