"""``sbs rank``'s output: the ranking as JSON, CSV or a table (votes-needed hints, pair matrices), and the pieces
of it the review app's ranking tab shows the same way (headers, intervals, votes needed)."""

from __future__ import annotations

import sys
from typing import IO, Any

from sbs_tui.present import numbers as num
from sbs_tui.present.numbers import count, fixed, interval
from sbs_tui.present.tables.console import console
from sbs_tui.present.text import escape, literal

CSV_FIELDS = ("model", "rating", "ci_low", "ci_high", "rank", "votes", "wins", "losses", "ties", "win_rate")


def write_ranking(doc: dict[str, Any], fmt: str, stream: IO[str] | None = None) -> None:
    """The ranking document as json, csv or a table, to ``stream`` (a text file) or stdout.

    JSON carries names exactly (JSON escapes control characters itself); CSV is read by spreadsheets and
    terminals (``cat``), so its text cells follow the literal rule like the table (``␛[31m``, not an escape)."""
    out = stream if stream is not None else sys.stdout
    if fmt == "json":
        import json

        out.write(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    elif fmt == "csv":
        import csv

        extra = ["component"] if any("component" in m for m in doc["models"]) else []
        writer = csv.DictWriter(out, fieldnames=[*CSV_FIELDS, *extra], extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in doc["models"]:
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    else:
        print_ranking(doc, file=stream)


def _csv_cell(value: Any) -> Any:
    """Literal (controls made visible) and spreadsheet-safe (no cell starts a formula)."""
    from sbs_tui.core.io.csv_cells import csv_text

    if value is None:
        return ""
    return csv_text(escape(value)) if isinstance(value, str) else value


def counted(doc: dict[str, Any]) -> str:
    """Whose votes a document counted, as its title says it ("49 votes by humans")."""
    from sbs_tui.core.scope import described

    return described(doc.get("voters") or "all", int(doc.get("votes") or 0))


def rank_columns(doc: dict[str, Any]) -> tuple[list[str], bool]:
    """Column headers for a ranking table, and whether it is length-controlled: under --control length the rating
    is the LC win rate and W/L/T and the last column are the raw verdicts, so the headers say which is which."""
    lc = doc["method"] == "winrate" and doc.get("control") == "length"
    if lc:
        return ["Rank", "Model", "LC win %", "95% CI", "Votes", "raw W", "raw L", "raw T", "Raw win %"], True
    rating = "Win rate %" if doc["method"] == "winrate" else "Rating"
    return ["Rank", "Model", rating, "95% CI", "Votes", "W", "L", "T", "Win %"], False


def print_ranking(doc: dict[str, Any], file: IO[str] | None = None) -> None:
    """``sbs rank``'s table (+ votes-needed hints and, with ``--matrix``, the pair matrices)."""
    from rich.table import Table
    from rich.text import Text

    out = console(file)
    multi = len(doc.get("components") or []) > 1
    pct = doc["method"] == "winrate"
    title = f"{doc['method']}" + (f" vs {doc.get('baseline')}" if pct else "")
    if doc.get("control", "none") != "none":
        title += f", {doc['control']}-controlled"
    if doc.get("ci"):
        title += f" · 95% CI: {doc['ci']}"
    if doc.get("voters") is not None:
        title += f" · {counted(doc)}"
    table = Table(title=literal(title), caption="Rank = Rank (UB): 1 + the models whose interval lies wholly above")
    columns, lc = rank_columns(doc)
    for col in columns:
        if col == "Model":  # names are folded, never cut off: two models may differ only at the end
            table.add_column(col, justify="left", overflow="fold", min_width=10)
        else:  # numbers never wrap; the interval may break at its dash
            table.add_column(col, justify="right", no_wrap=col != "95% CI")
    if multi:
        table.add_column("Component", justify="right")
    digits = 2 if pct else 0
    for m in doc["models"]:
        name = literal(m["model"])
        if m.get("baseline"):
            name.append(" (baseline: 50 by definition)", style="dim")
        last = m.get("raw_win_rate", m["win_rate"]) if lc else m["win_rate"]
        row: list[Any] = [str(m["rank"]), name, fixed(m["rating"], digits + 1 if pct else 1),
                          rating_interval(m, digits), count(m["votes"]), count(m["wins"]), count(m["losses"]),
                          count(m["ties"]), fixed(last, 1)]
        if multi:
            row.append(str(m.get("component", "")))
        table.add_row(*row)
    out.print(table)
    if lc and isinstance(doc.get("difficulty"), dict):
        out.print(literal(difficulty_line(doc["difficulty"], doc.get("regularisation"))), style="dim")
    needed = [v for v in doc.get("votes_needed", []) if not v.get("separated") and v.get("factor")]
    if needed:
        out.print(Text("Votes needed to separate adjacent models (power estimate, ≈ per model):", style="dim"))
        for v in needed[:10]:
            out.print(literal(f"  {v['better']} vs {v['worse']}: {votes_needed_text(v)}"))
    if doc.get("matrices"):
        _print_matrices(out, doc["matrices"])


def difficulty_line(info: dict[str, Any], regularisation: Any) -> str:
    """Which frozen instruction difficulty the length-controlled win rate used, and whether it was regularised
    towards gamed baselines: "Difficulty: stored, fitted 2026-12-07T21:21:27Z on 7 models (a, b, …); 805 prompts ·
    unregularised (no gamed baseline annotations)"."""
    source = info.get("source", "?")
    if source == "file":
        what = f"from {info.get('path')}"
    else:
        models = list(info.get("models") or [])
        shown = ", ".join(models[:6]) + (", …" if len(models) > 6 else "")
        what = f"{source}, fitted {info.get('fitted_at') or 'now'} on {len(models)} model(s) ({shown})"
    reg = ("regularised towards " + ", ".join(regularisation.get("variants", [])) if isinstance(regularisation, dict)
           else "unregularised (no gamed baseline annotations)")
    return f"Difficulty: {what}; {info.get('prompts', 0):,} prompts · {reg}"


MAX_SHOWN_FACTOR = 100.0


def votes_needed_text(v: dict[str, Any]) -> str:
    """"×4.0 the votes (≈ 1,500 more per model)"; beyond ×100 the gap is within the noise and a number of votes
    would be false precision."""
    if v["factor"] > MAX_SHOWN_FACTOR:
        return f"over ×{MAX_SHOWN_FACTOR:.0f} the votes (the gap is far inside the noise)"
    return f"×{v['factor']:.1f} the votes (≈ {v['more_votes_per_model']:,} more per model)"


def rating_interval(m: dict[str, Any], digits: int) -> str:
    """A ranked model's 95% interval: ``∞``/``−∞`` on an unbounded side (``null`` in JSON: the MLE is infinite
    that way); ``—`` when none was computed (no bootstrap rounds) — unless the model's rating was set by the
    prior alone, whose interval is unbounded on both sides."""
    low, high = m.get("ci_low"), m.get("ci_high")
    if low is None and high is None and m.get("set_by_prior"):
        return f"{num.MINUS_INFINITY} – {num.INFINITY}"
    return interval(low, high, lambda x: fixed(x, digits))


def _print_matrices(out: Any, mats: dict[str, Any]) -> None:
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
        for k, (name, row) in enumerate(zip(names, mats[key], strict=False)):
            cells = ["" if x is None else (fixed(x, 2) if key != "votes" else count(x)) for x in row]
            table.add_row(literal(f"{k + 1}. {name}"), *cells)
        out.print(table)
