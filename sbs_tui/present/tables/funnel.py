"""``sbs funnel``: the stages side by side per model, per-gate pass rates, rank agreement between stages — a
:class:`~sbs_tui.core.views.funnel.FunnelView`, the one the review app's funnel tab draws."""

from __future__ import annotations

from typing import Any

from sbs_tui.present.numbers import DASH, count, finite, fixed, p_value, percent, significant
from sbs_tui.present.tables.ab import lift_text
from sbs_tui.present.tables.console import console
from sbs_tui.present.tables.gates import print_unchecked
from sbs_tui.present.text import literal


def print_funnel(view: Any) -> None:
    """``sbs funnel``: the stages table, what no gate checked, whose votes counted, then the per-gate pass rates,
    the rank agreement between stages and where the stages disagree."""
    from rich.text import Text

    out = console()
    keys = [s.key for s in view.stages]
    ab = [s for s in view.stages if s.key.startswith("ab:")]
    show_gates = any(r.gates and (r.gates.get("passed") or r.gates.get("blocked") or r.gates.get("gates"))
                     for r in view.rows)
    out.print(_stages_table(view, keys, ab, show_gates))
    if show_gates or view.unchecked:
        print_unchecked(list(view.unchecked))
    if "side_by_side" in keys and view.voters:
        from sbs_tui.core.scope import described

        out.print(Text(f"side-by-side: {described(view.voters, view.votes)} (--voters auto|humans|judges|all)",
                       style="dim"))
    if ab:
        out.print(Text("A/B: estimate and lift over the control; * significant (Holm-adjusted).", style="dim"))
    if view.gate_names:
        out.print(_per_gate_table(view))
    if view.correlations:
        out.print(_correlation_table(view))
        for note in view.notes:
            out.print(Text.assemble("  ", literal(note)))
    if view.disagreements:
        out.print(Text("where the stages disagree", style="bold"))
        for sentence in view.disagreements:
            out.print(Text.assemble("  • ", literal(sentence)))
    elif view.verdict:
        out.print(Text(view.verdict, style="green" if not view.notes else "yellow"))


def _stages_table(view: Any, keys: list[str], ab: list[Any], show_gates: bool) -> Any:
    """One row per model: the benchmarks, gates, side-by-side and A/B stages that have scores."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text("evaluation funnel", style="bold"), title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("model", overflow="fold")
    if "benchmarks" in keys:
        table.add_column("benchmarks\n(norm. mean, n)", justify="right")
    if show_gates:
        table.add_column("gates\npass rate", justify="right")
    as_share = view.side_by_side_method == "win_rate"
    if "side_by_side" in keys:
        table.add_column("side-by-side\n" + ("win rate (votes)" if as_share else "BT rating (win rate, votes)"),
                         justify="right")
    for stage in ab:
        table.add_column(Text.assemble("A/B\n", literal(stage.label[4:])), justify="right")
    for row in view.rows:
        table.add_row(*_stage_cells(row, keys, ab, show_gates, as_share))
    return table


def _stage_cells(row: Any, keys: list[str], ab: list[Any], show_gates: bool, as_share: bool) -> list[Any]:
    """A model's cells of the stages table, in the columns' order (a dash where a stage has no score for it)."""
    from rich.text import Text

    cells: list[Any] = [literal(row.model)]
    if "benchmarks" in keys:
        d = row.stages.get("benchmarks")
        cells.append(DASH if d is None else f"{significant(d['score'], 3)} ({d['benchmarks']})")
    if show_gates:
        g = row.gates
        cells.append(DASH if g is None or finite(g["pass_rate"]) is None
                     else f"{percent(g['pass_rate'])} of {count(g['passed'] + g['blocked'])}")
    if "side_by_side" in keys:
        d = row.stages.get("side_by_side")
        if d is None:
            cells.append(DASH)
        elif as_share:
            cells.append(f"{percent(d['win_rate'])} ({count(d['votes'])})")
        else:
            cells.append(f"{fixed(d['rating'], 0)} ({percent(d['win_rate'])}, {count(d['votes'])})")
    for stage in ab:
        d = row.stages.get(stage.key)
        if d is None:
            cells.append(DASH)
        elif d["control"]:
            cells.append(Text.assemble(significant(d["estimate"]), (" control", "dim")))
        else:
            mark = ("*", "bold green") if d["significant"] else ("", "")
            cells.append(Text.assemble(f"{significant(d['estimate'])} {lift_text(d['lift'])}", mark))
    return cells


def _per_gate_table(view: Any) -> Any:
    """Each gate's pass rate per model."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    per_gate = Table(title=Text("pass rate per gate", style="bold"), title_justify="left", box=box.SIMPLE_HEAD)
    per_gate.add_column("model", overflow="fold")
    for gate in view.gate_names:
        per_gate.add_column(literal(gate), justify="right")
    for row in view.rows:
        gates = (row.gates or {}).get("gates", {})
        per_gate.add_row(literal(row.model), *[
            DASH if gate not in gates else percent(gates[gate]["pass_rate"]) for gate in view.gate_names])
    return per_gate


def _correlation_table(view: Any) -> Any:
    """How far the stages' rankings agree: Spearman and Kendall per pair of stages, with p-values."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    corr = Table(title=Text("rank agreement between stages", style="bold"), title_justify="left",
                 box=box.SIMPLE_HEAD)
    for header in ("stage", "stage", "shared models", "Spearman ρ (p, Holm p)", "Kendall τ (p)"):
        corr.add_column(header, justify="right" if header != "stage" else "left")
    for c in view.correlations:
        rho = (DASH if c["spearman"] is None else
               f"{fixed(c['spearman'], 2, signed=True)} ({p_value(c['spearman_p'])}, "
               f"{p_value(c.get('spearman_p_holm'))})")
        tau = (DASH if c["kendall"] is None else
               f"{fixed(c['kendall'], 2, signed=True)} ({p_value(c['kendall_p'])})")
        corr.add_row(literal(c["labels"][0]), literal(c["labels"][1]), str(c["n"]), rho, tau)
    return corr
