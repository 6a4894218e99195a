"""`sbs rank` — ratings with confidence intervals from the stored votes (BT, online Elo, TrueSkill, win rate).

Only click and the standard library at import time: numpy/scipy load when the command runs.
"""

from __future__ import annotations

from typing import Any

import click

from sbs_tui.cli_params import rank_options, rank_request
from sbs_tui.results_render import escape_controls, literal  # one rule for hostile names everywhere

CSV_FIELDS = ("model", "rating", "ci_low", "ci_high", "rank", "votes", "wins", "losses", "ties", "win_rate")


@click.command("rank")
@rank_options
@click.option("--format", "fmt", type=click.Choice(("table", "json", "csv")), default="table", show_default=True)
@click.pass_context
def rank_command(ctx: click.Context, fmt: str, **options: Any) -> None:
    """Rank models from the stored votes, with 95% confidence intervals, best first.

    Ties and both-bad votes count half a win each; weighted (AlpacaEval) votes count with their weight.
    Ratings are on the Elo scale (1000 + 400·log10 odds), centred on 1000 or anchored at --baseline.
    """
    from sbs_tui.core.ranking.api import rank_stored

    ranking = rank_stored(lambda: ctx.obj.open_store(read_only=True), rank_request(**options))
    for warning in ranking.warnings:
        click.echo(f"warning: {escape_controls(warning)}", err=True)
    emit(ranking, fmt)


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
    for col in ("Rank", "Model", "Rating", "95% CI", "Votes", "W", "L", "T", "Win %"):
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
        ci = ("—" if m["ci_low"] is None else
              f"{fmt_num(m['ci_low'], digits)} – {fmt_num(m['ci_high'], digits)}")
        row = [str(m["rank"]), literal(m["model"]), fmt_num(m["rating"], digits + 1 if pct else 1), ci,
               f"{m['votes']:,}" if isinstance(m["votes"], int) else f"{m['votes']:.1f}",
               _n(m["wins"]), _n(m["losses"]), _n(m["ties"]), fmt_num(m["win_rate"], 1)]
        if multi:
            row.append(str(m.get("component", "")))
        table.add_row(*row)
    console.print(table)
    needed = [v for v in doc.get("votes_needed", []) if not v.get("separated") and v.get("factor")]
    if needed:
        console.print(Text("Votes needed to separate adjacent models (power estimate, ≈ per model):",
                           style="dim"))
        for v in needed[:10]:
            console.print(literal(f"  {v['better']} vs {v['worse']}: ×{v['factor']:.1f} votes "
                                  f"(≈ {v['more_votes_per_model']:,} more per model)"))
    if doc.get("matrices"):
        _print_matrix(console, doc["matrices"])


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
