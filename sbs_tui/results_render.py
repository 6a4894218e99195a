"""Rich tables for `sbs ab` and `sbs funnel`.

Why a module apart from the core: the core returns plain data (also what ``--format json`` prints); only this
layer knows about terminals. Names (models, variants, experiments) come from user files and may hold Rich
markup or escape sequences, so they are always wrapped in :class:`rich.text.Text` and never parsed as markup.
"""

from __future__ import annotations

import unicodedata
from typing import Any


def escape_controls(text: str) -> str:
    """``text`` with control and format characters (escape sequences, zero-width and bidi controls) replaced by
    visible ``\\x1b``-style escapes."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in ("Cc", "Cf") else ch
        for ch in str(text)
    )


def literal(name: str) -> Any:
    """A user-supplied name as Rich text shown exactly: markup is not parsed, and control and format characters
    are shown as escapes (:func:`escape_controls`), so a hostile name can neither restyle the terminal nor shift
    the table's columns."""
    from rich.text import Text

    return Text(escape_controls(name))


def interval_text(m: dict, digits: int) -> str:
    """"low – high"; an unbounded side (null in JSON: the MLE is infinite that way) is shown as ∞, never as a
    number; no interval at all (--ci none, no bootstrap rounds) is "—"."""
    low, high = m.get("ci_low"), m.get("ci_high")
    if low is None and high is None and not m.get("set_by_prior"):
        return "—"
    lo = "−∞" if low is None else f"{low:.{digits}f}"
    hi = "∞" if high is None else f"{high:.{digits}f}"
    return f"{lo} – {hi}"


MAX_SHOWN_FACTOR = 100.0


def votes_needed_text(v: dict) -> str:
    """"×4.0 the votes (≈ 1,500 more per model)"; beyond ×100 the gap is within the noise and a number of votes
    would be false precision."""
    if v["factor"] > MAX_SHOWN_FACTOR:
        return f"over ×{MAX_SHOWN_FACTOR:.0f} the votes (the gap is far inside the noise)"
    return f"×{v['factor']:.1f} the votes (≈ {v['more_votes_per_model']:,} more per model)"


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
        console = Console(highlight=False, width=160)
    return console


def _num(value: float | None, digits: int = 4, sign: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}g}" if sign else f"{value:.{digits}g}"


def _signed(value: float | None) -> str:
    return _num(value, 3, sign=True)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f}%"


def _p(value: float | None) -> str:
    """p-values as people read them: 4 decimals, or "< 1e-10" (never 0.0) when tiny, else 2 significant digits."""
    if value is None:
        return "–"
    if value < 1e-10:
        return "< 1e-10"
    return f"{value:.2g}" if value < 1e-4 else f"{value:.4f}"


def _interval(low: float | None, high: float | None, fmt: Any = _num) -> str:
    if low is None or high is None:
        return "–"
    return f"[{fmt(low)}, {fmt(high)}]"


def print_ab_report(report: Any) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console = _console()
    level = f"{(1 - report.alpha) * 100:g}%"
    for result in report.results:
        if result.kind == "binary":
            used = sorted({c.test for c in result.comparisons})
            names = {"fisher_exact": "Fisher's exact test (small counts)", "two_proportion_z": "two-proportion z-test"}
            test = " / ".join(names.get(u, u) for u in used) + ", Newcombe interval"
        else:
            test = "Welch t-test and interval"
        test += "; lift: Fieller"
        title = Text.assemble(("experiment ", "bold"), literal(result.experiment), ("  metric ", "bold"),
                              literal(result.metric),
                              f"  ({result.kind}: {test})")
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
        table.add_row(Text.assemble(literal(result.control), (" (control)", "dim")), f"{result.control_n:,}",
                      _num(result.control_estimate), *([""] * (5 if several else 4)))
        for c in result.comparisons:
            mark = Text("yes", style="bold green") if c.significant else Text("no", style="dim")
            diff = f"{_signed(c.difference)} {_interval(c.ci_low, c.ci_high, _signed)}"
            lift = ("–" if c.lift is None else f"{_pct(c.lift)} [unbounded]" if c.lift_ci_low is None
                    else f"{_pct(c.lift)} {_interval(c.lift_ci_low, c.lift_ci_high, _pct)}")
            cells = [literal(c.variant), f"{c.n:,}", _num(c.estimate), diff, lift, _p(c.p_value)]
            if several:
                cells.append(_p(c.p_value_adjusted))
            table.add_row(*cells, mark)
        console.print(table)
        for comp in result.comparisons:
            if comp.note:
                console.print(Text.assemble(("  note: ", "yellow"), literal(f"{comp.variant}: {comp.note}")))
        for warning in result.warnings:
            console.print(Text.assemble(("  warning: ", "yellow"), literal(warning)))
        console.print()
    if any(len(r.comparisons) > 1 for r in report.results):
        console.print(Text(f"significant: p < {report.alpha:g}, Holm-adjusted when an experiment has several "
                           "variants against its control.", style="dim"))


def print_funnel(report: Any) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console = _console()
    by_key = {s.key: s for s in report.stages}
    bench, sbs = by_key.get("benchmarks"), by_key.get("side_by_side")
    ab = [s for s in report.stages if s.key.startswith("ab:")]
    show_gates = any(g.get("passed") or g.get("blocked") or g.get("gates") for g in report.gates.values())

    table = Table(title=Text("evaluation funnel", style="bold"), title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("model", overflow="fold")
    if bench:
        table.add_column("benchmarks\n(norm. mean, n)", justify="right")
    if show_gates:
        table.add_column("gates\npass rate", justify="right")
    if sbs:
        as_share = any(d.get("method") == "win_rate" for d in sbs.details.values())
        table.add_column("side-by-side\n" + ("win rate (votes)" if as_share else "BT rating (win rate, votes)"),
                         justify="right")
    for stage in ab:
        table.add_column(Text.assemble("A/B\n", literal(stage.label[4:])), justify="right")
    for model in report.models():
        cells: list[Any] = [literal(model)]
        if bench:
            d = bench.details.get(model)
            cells.append("–" if d is None else f"{_num(d['score'], 3)} ({d['benchmarks']})")
        if show_gates:
            g = report.gates.get(model)
            cells.append("–" if g is None or g["pass_rate"] is None
                         else f"{g['pass_rate'] * 100:.1f}% of {g['passed'] + g['blocked']:,}")
        if sbs:
            d = sbs.details.get(model)
            if d is None:
                cells.append("–")
            else:
                if as_share:
                    cells.append(f"{d['win_rate'] * 100:.1f}% ({d['votes']:,})")
                else:
                    cells.append(f"{d['rating']:.0f} ({d['win_rate'] * 100:.1f}%, {d['votes']:,})")
        for stage in ab:
            d = stage.details.get(model)
            if d is None:
                cells.append("–")
            elif d["control"]:
                cells.append(Text.assemble(_num(d["estimate"]), (" control", "dim")))
            else:
                mark = ("*", "bold green") if d["significant"] else ("", "")
                cells.append(Text.assemble(f"{_num(d['estimate'])} {_pct(d['lift'])}", mark))
        table.add_row(*cells)
    console.print(table)
    if ab:
        console.print(Text("A/B: estimate and lift over the control; * significant (Holm-adjusted).", style="dim"))
    gate_names = sorted({gate for g in report.gates.values() for gate in g.get("gates", {})})
    if gate_names:
        per_gate = Table(title=Text("pass rate per gate", style="bold"), title_justify="left", box=box.SIMPLE_HEAD)
        per_gate.add_column("model", overflow="fold")
        for gate in gate_names:
            per_gate.add_column(literal(gate), justify="right")
        for model in report.models():
            gates = report.gates.get(model, {}).get("gates", {})
            per_gate.add_row(literal(model), *[
                "–" if gate not in gates or gates[gate]["pass_rate"] is None
                else f"{gates[gate]['pass_rate'] * 100:.1f}%" for gate in gate_names])
        console.print(per_gate)

    if report.correlations:
        labels = {s.key: s.label for s in report.stages}
        corr = Table(title=Text("rank agreement between stages", style="bold"), title_justify="left",
                     box=box.SIMPLE_HEAD)
        for header in ("stage", "stage", "shared models", "Spearman ρ (p, Holm p)", "Kendall τ (p)"):
            corr.add_column(header, justify="right" if header != "stage" else "left")
        for c in report.correlations:
            rho = ("–" if c.spearman is None
                   else f"{c.spearman:+.2f} ({_p(c.spearman_p)}, {_p(c.spearman_p_holm)})")
            tau = "–" if c.kendall is None else f"{c.kendall:+.2f} ({_p(c.kendall_p)})"
            corr.add_row(literal(labels[c.stages[0]]), literal(labels[c.stages[1]]), str(len(c.models)), rho, tau)
        console.print(corr)
        console.print(Text("  Spearman p: exact permutation up to 9 models; Holm-adjusted across these correlations.",
                           style="dim"))
        for c in report.correlations:
            if c.note:
                console.print(Text.assemble("  ", literal(f"{labels[c.stages[0]]} vs {labels[c.stages[1]]}: {c.note}")))
    if report.disagreements:
        console.print(Text("where the stages disagree", style="bold"))
        for sentence in report.disagreements:
            console.print(Text.assemble("  • ", literal(sentence)))
    elif report.correlations:
        console.print(Text("the stages agree on the models they share.", style="green"))


def print_accounts(rows: list[dict[str, Any]]) -> None:
    """`sbs annotators list`: name, role, issued, revoked."""
    from rich.table import Table

    table = Table(title="team accounts (sbs serve)")
    for column in ("annotator", "role", "token issued", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(literal(row["name"]), row["role"], row["created_at"], row["revoked_at"] or "")
    _console().print(table)
