"""`sbs rank` — ratings with confidence intervals from the stored votes (BT, online Elo, TrueSkill, win rate).

Only click and the standard library at import time: numpy/scipy load when the command runs.
"""

from __future__ import annotations

import click

from sbs_tui.errors import InputError
from sbs_tui.results_render import (  # one rule for hostile names and unbounded intervals everywhere
    escape_controls, interval_text, literal, votes_needed_text,
)

METHODS = ("bt", "elo", "trueskill", "winrate")
CSV_FIELDS = ("model", "rating", "ci_low", "ci_high", "rank", "votes", "wins", "losses", "ties", "win_rate")


@click.command("rank")
@click.option("--method", type=click.Choice(METHODS), default="bt", show_default=True,
              help="bt: Bradley-Terry MLE; elo: online Elo (order-dependent); trueskill; "
                   "winrate: AlpacaEval win rate against --baseline.")
@click.option("--baseline", default=None, metavar="MODEL",
              help="Anchor model: sits at 1000 for bt/elo; the reference model for winrate (default there: the "
                   "most-compared model, as the review app picks it).")
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
@click.option("--elo-order", "elo_order", type=click.Choice(("bootstrap", "file")), default="bootstrap",
              show_default=True,
              help="elo only: bootstrap = median over the shuffled bootstrap rounds (FastChat; inside its interval); "
                   "file = the stored order.")
@click.option("--orders", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="elo --elo-order file only: average over this many random vote orders (1 = the stored order).")
@click.option("--k-factor", "k_factor", type=click.FloatRange(min=0, min_open=True), default=4.0,
              show_default=True, help="elo only: K factor (Arena uses 4).")
@click.option("--matrix", "with_matrix", is_flag=True,
              help="Add votes-per-pair, empirical and predicted win-rate matrices.")
@click.option("--format", "fmt", type=click.Choice(("table", "json", "csv")), default="table", show_default=True)
@click.pass_context
def rank_command(ctx: click.Context, method: str, baseline: str | None, rounds: int, ci: str, control: str,
                 annotators: tuple[str, ...], category: str | None, include_flagged: bool, seed: int,
                 elo_order: str, orders: int, k_factor: float, with_matrix: bool, fmt: str) -> None:
    """Rank models from the stored votes, with 95% confidence intervals, best first.

    Ties and both-bad votes count half a win each; weighted (AlpacaEval) votes count with their weight.
    Ratings are on the Elo scale (1000 + 400·log10 odds), centred on 1000 or anchored at --baseline.
    """
    ranking = compute_ranking(ctx, method, baseline, rounds, ci, control, annotators, category, include_flagged,
                              seed, orders, k_factor, with_matrix, elo_order=elo_order)
    emit(ranking, fmt)


def compute_ranking(ctx: click.Context, method: str, baseline: str | None, rounds: int, ci: str, control: str,
                    annotators: tuple[str, ...], category: str | None, include_flagged: bool, seed: int,
                    orders: int, k_factor: float, with_matrix: bool, *, elo_order: str = "bootstrap"):
    """Validate the options, rank, and report warnings on stderr (shared by `sbs export rankings`)."""
    if control != "none" and method in ("elo", "trueskill"):
        raise InputError(f"--control {control} applies to --method bt or winrate", field="--control")
    if control == "style" and method == "winrate":
        raise InputError("--control style applies to --method bt (use --control length for winrate)",
                         field="--control")
    from sbs_tui.core.ranking.api import RankRequest, run_ranking

    request = RankRequest(method=method, baseline=baseline, rounds=rounds, ci=ci, control=control,
                          annotators=list(annotators) or None, category=category,
                          include_flagged=include_flagged, seed=seed, orders=orders, k_factor=k_factor,
                          matrices=with_matrix, elo_order=elo_order)
    store = ctx.obj.open_store()
    try:
        ranking = run_ranking(store, request)
    except KeyError as exc:
        raise InputError(f"no votes involve model {exc.args[0]!r}", field="--baseline") from None
    finally:
        store.close()
    for warning in ranking.warnings:
        click.echo(f"warning: {escape_controls(warning)}", err=True)
    return ranking


def emit(ranking, fmt: str, stream=None) -> None:
    """Write the ranking as json, csv or a table; to ``stream`` (a text file) or stdout."""
    import sys

    doc = ranking.to_json()
    out = stream if stream is not None else sys.stdout
    if fmt == "json":
        import json

        out.write(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    elif fmt == "csv":
        import csv

        extra = ["component"] if any("component" in m for m in doc["models"]) else []
        writer = csv.DictWriter(out, fieldnames=[*CSV_FIELDS, *extra], extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for row in doc["models"]:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    else:
        print_table(doc)


def print_table(doc: dict) -> None:
    """A rich table; model names are rendered as literal text (never as markup)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    multi = len(doc.get("components") or []) > 1
    pct = doc["method"] == "winrate"
    title = f"{doc['method']}" + (f" vs {doc.get('baseline')}" if pct else "")
    if doc.get("control", "none") != "none":
        title += f", {doc['control']}-controlled"
    if doc.get("ci"):
        title += f" · 95% CI: {doc['ci']}"
    table = Table(title=literal(title), caption="Rank = Rank (UB): 1 + the models whose interval lies wholly above")
    columns, lc = rank_columns(doc)
    for col in columns:
        if col == "Model":  # names are folded, never cut off: two models may differ only at the end
            table.add_column(col, justify="left", overflow="fold", min_width=10)
        else:  # numbers never wrap; the interval may break at its dash
            table.add_column(col, justify="right", no_wrap=col != "95% CI")
    if multi:
        table.add_column("Component", justify="right")

    def fmt_num(x, digits: int) -> str:
        return "—" if x is None else f"{x:.{digits}f}"

    digits = 2 if pct else 0
    for m in doc["models"]:
        ci = interval_text(m, digits)
        name = literal(m["model"])
        if m.get("baseline"):
            name.append(" (baseline: 50 by definition)", style="dim")
        last = m.get("raw_win_rate", m["win_rate"]) if lc else m["win_rate"]
        row = [str(m["rank"]), name, fmt_num(m["rating"], digits + 1 if pct else 1), ci,
               f"{m['votes']:,}" if isinstance(m["votes"], int) else f"{m['votes']:.1f}",
               _n(m["wins"]), _n(m["losses"]), _n(m["ties"]), fmt_num(last, 1)]
        if multi:
            row.append(str(m.get("component", "")))
        table.add_row(*row)
    console.print(table)
    needed = [v for v in doc.get("votes_needed", []) if not v.get("separated") and v.get("factor")]
    if needed:
        console.print(Text("Votes needed to separate adjacent models (power estimate, ≈ per model):",
                           style="dim"))
        for v in needed[:10]:
            console.print(literal(f"  {v['better']} vs {v['worse']}: {votes_needed_text(v)}"))
    if doc.get("matrices"):
        _print_matrix(console, doc["matrices"])


def rank_columns(doc: dict) -> tuple[list[str], bool]:
    """Column headers for a ranking table, and whether it is length-controlled: under --control length the rating
    is the LC win rate and W/L/T and the last column are the raw verdicts, so the headers say which is which."""
    lc = doc["method"] == "winrate" and doc.get("control") == "length"
    if lc:
        return ["Rank", "Model", "LC win %", "95% CI", "Votes", "raw W", "raw L", "raw T", "Raw win %"], True
    rating = "Win rate %" if doc["method"] == "winrate" else "Rating"
    return ["Rank", "Model", rating, "95% CI", "Votes", "W", "L", "T", "Win %"], False


def _print_matrix(console, mats: dict) -> None:
    from rich.table import Table

    names = mats["models"]
    for key, title in (("empirical_win_rate", "Empirical win rate (row vs column)"),
                       ("predicted_win_rate", "Predicted win rate (row vs column)"),
                       ("votes", "Votes per pair")):
        if key not in mats:
            continue
        table = Table(title=title)
        table.add_column("")
        for k in range(len(names)):
            table.add_column(str(k + 1), justify="right")
        for k, (name, row) in enumerate(zip(names, mats[key])):
            cells = ["" if x is None else (f"{x:.2f}" if key != "votes" else f"{x:,}") for x in row]
            table.add_row(literal(f"{k + 1}. {name}"), *cells)
        console.print(table)


def _n(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:.1f}"
