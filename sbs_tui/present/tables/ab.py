"""``sbs ab``: per experiment and metric, each variant against the control (estimate, difference, lift, p)."""

from __future__ import annotations

from typing import Any

from sbs_tui.present.numbers import DASH, count, interval, p_value, percent, significant
from sbs_tui.present.tables.console import console
from sbs_tui.present.text import literal


def _signed(value: float | None) -> str:
    return significant(value, 3, signed=True)


def lift_text(value: float | None) -> str:
    return percent(value, 1, signed=True)


def print_ab_report(report: Any) -> None:
    """``sbs ab``: per experiment and metric, each variant against the control."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = console()
    level = f"{(1 - report.alpha) * 100:g}%"
    for result in report.results:
        if result.kind == "binary":
            used = sorted({c.test for c in result.comparisons})
            names = {"boschloo_exact": "Boschloo's exact test", "fisher_exact": "Fisher's exact test",
                     "two_proportion_z": "two-proportion z-test (approximate: counts not whole)"}
            test = " / ".join(names.get(u, u) for u in used) + ", Newcombe interval"
        else:
            test = "Welch t-test and interval"
        test += "; lift: Fieller"
        title = Text.assemble(("experiment ", "bold"), literal(result.experiment), ("  metric ", "bold"),
                              literal(result.metric), f"  ({result.kind}: {test})")
        several = len(result.comparisons) > 1
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        table.add_column("variant", overflow="fold")
        table.add_column("n", justify="right")
        table.add_column("estimate", justify="right")
        table.add_column(f"difference ({level} CI)", justify="right", no_wrap=True)
        table.add_column(f"lift ({level} CI)", justify="right", no_wrap=True)
        table.add_column("p", justify="right")
        if several:
            table.add_column("p Holm", justify="right")
        table.add_column("sig.")
        table.add_row(Text.assemble(literal(result.control), (" (control)", "dim")), count(result.control_n),
                      significant(result.control_estimate), *([""] * (5 if several else 4)))
        for c in result.comparisons:
            mark = Text("yes", style="bold green") if c.significant else Text("no", style="dim")
            diff = (f"{_signed(c.difference)} "
                    f"{_ab_interval(c.ci_low, c.ci_high, _signed)}")
            lift = (DASH if c.lift is None else f"{lift_text(c.lift)} [unbounded]" if c.lift_ci_low is None
                    else f"{lift_text(c.lift)} {_ab_interval(c.lift_ci_low, c.lift_ci_high, lift_text)}")
            cells: list[Any] = [literal(c.variant), count(c.n), significant(c.estimate), diff, lift,
                                p_value(c.p_value)]
            if several:
                cells.append(p_value(c.p_value_adjusted))
            table.add_row(*cells, mark)
        out.print(table)
        for comp in result.comparisons:
            if comp.note:
                out.print(Text.assemble(("  note: ", "yellow"), literal(f"{comp.variant}: {comp.note}")))
        for warning in result.warnings:
            out.print(Text.assemble(("  warning: ", "yellow"), literal(warning)))
        out.print()
    if any(len(r.comparisons) > 1 for r in report.results):
        out.print(Text(f"significant: p < {report.alpha:g}, Holm-adjusted when an experiment has several "
                       "variants against its control.", style="dim"))


def _ab_interval(low: float | None, high: float | None, fmt: Any) -> str:
    """An A/B interval is either computed (both bounds) or not at all: ``—``, never a one-sided ``∞``."""
    if low is None or high is None:
        return DASH
    return interval(low, high, fmt, brackets=True)
