"""Every results table the CLI prints: rank, agreement, gate pass rates, generations, A/B, funnel, queue status,
flags and team accounts.

Why a layer apart from the core: the core returns plain data (also what ``--format json`` prints); only this
layer knows about terminals. Every name from user files goes through :func:`sbs_tui.present.text.literal` and
every number through :mod:`sbs_tui.present.numbers`, so a hostile name can neither restyle the terminal nor shift
a column, and a number looks the same in every table. Rich is imported inside the functions (the CLI's
``--help`` paths never pay for it).

Piped output (stdout not a terminal) is not squeezed into 80 columns: tables take the width they need and
lines do not wrap, so ``sbs rank | less -S`` or a file keeps one row per line (``$COLUMNS`` still wins when set).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import IO, Any

from sbs_tui.present import numbers as num
from sbs_tui.present.numbers import (
    DASH, count, finite, fixed, interval, p_value, percent, significant,
)
from sbs_tui.present.text import escape, literal

PIPED_WIDTH = 10_000  # "no wrapping": wider than any table, and Rich pads nothing beyond a table's own width


def console(file: IO[str] | None = None) -> Any:
    """A Rich console for results: highlighting off (numbers and names are not re-coloured), and, when not
    writing to a terminal, as wide as the content needs."""
    from rich.console import Console

    class ResultConsole(Console):
        def on_broken_pipe(self) -> None:
            """Rich exits 1 on a closed pipe; ``sbs rank | head -2`` is a success (the CLI exits 0 quietly)."""
            raise BrokenPipeError()

    out = ResultConsole(highlight=False, file=file)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = ResultConsole(highlight=False, file=file, width=PIPED_WIDTH)
    return out


# -- rank -------------------------------------------------------------------------------------------------------

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


# -- agreement --------------------------------------------------------------------------------------------------

def print_agreement(doc: dict[str, Any]) -> None:
    """``sbs agreement``'s tables: Cohen's κ per pair, annotators against the majority, position bias, judges,
    order consistency, gold accuracy."""
    from rich.table import Table

    out = console()
    o = doc["overall"]
    out.print(literal(f"counted: {counted(doc)}"))
    out.print(literal(
        f"{o['votes']:,} votes on {o['items']:,} items ({o['items_multi_annotated']:,} judged by ≥ 2 "
        f"annotators), {o['annotators']} annotators · percent agreement {fixed(o['percent_agreement'], 1)} · "
        f"Fleiss κ {fixed(o['fleiss_kappa'], 3)} · Krippendorff α {fixed(o['krippendorff_alpha'], 3)}"))
    if o.get("unavailable_reason"):
        out.print(literal(f"agreement cannot be computed: {o['unavailable_reason']}"))
    if doc["pairs"]:
        t = Table(title="Cohen's κ per annotator pair")
        for c in ("Annotator A", "Annotator B", "Items", "Agree %", "κ"):
            t.add_column(c, justify="left" if c.startswith("Annotator") else "right")
        for p in doc["pairs"]:
            t.add_row(literal(p["annotator_a"]), literal(p["annotator_b"]), str(p["items"]),
                      fixed(p["percent_agreement"], 1), fixed(p["cohen_kappa"], 3))
        out.print(t)
    t = Table(title="Annotators (agreement with the majority of the others)")
    for c in ("Annotator", "Kind", "Votes", "Items", "Agree %", "Others %", "p (Holm)", "Outlier"):
        t.add_column(c, justify="left" if c in ("Annotator", "Kind") else "right")
    for a in doc["annotators"]:
        t.add_row(literal(a["annotator"]), a["kind"], count(a["votes"]), str(a["items_with_majority"]),
                  fixed(a.get("majority_agreement"), 1), fixed(a.get("others_majority_agreement"), 1),
                  p_value(a.get("p_value_holm", a.get("p_value"))), "yes" if a.get("outlier") else "")
    out.print(t)
    if doc["position_bias"]:
        t = Table(title="Position bias (decisive votes won by the left answer)")
        for c in ("Annotator", "Votes", "Left wins", "Left %", "p (Holm)"):
            t.add_column(c, justify="left" if c == "Annotator" else "right")
        for p in doc["position_bias"]:
            t.add_row(literal(p["annotator"]), count(p["decisive_votes"]), count(p["left_wins"]),
                      fixed(p["left_share"], 1),
                      p_value(p.get("p_value_holm", p.get("p_value"))) if p.get("testable", True) else "not testable")
        out.print(t)
    for j in doc["judge_vs_humans"]:
        out.print(literal(f"Judge {j['judge']} vs human majority: {j['items']} items, "
                          f"agreement {fixed(j['percent_agreement'], 1)}%, κ {fixed(j['cohen_kappa'], 3)}, "
                          f"{len(j['disagreements'])} disagreements listed in --format json"))
    for c in doc["order_consistency"]:
        out.print(literal(f"{c['annotator']}: same verdict in both orders on {c['consistent']}/"
                          f"{c['items_judged_in_both_orders']} items ({fixed(c['consistency'], 1)}%)"))
    gold = doc["gold"]
    if not gold.get("available"):
        out.print(literal(f"Gold: {gold.get('note')}"))
    else:
        for g in gold["annotators"]:
            out.print(literal(f"Gold accuracy {g['annotator']}: {fixed(g['accuracy'], 1)}% on {g['items']} items"))


# -- gates ------------------------------------------------------------------------------------------------------

def print_gate_rates(rates: list[dict[str, Any]], gate_names: list[str]) -> None:
    """``sbs gate``'s summary: generations passed/blocked/pending per model and each gate's pass rate."""
    from rich.table import Table

    table = Table(title="gate pass rates per model")
    for col in ("model", "generations", "passed", "blocked", "held", "pending", "overridden", *gate_names):
        table.add_column(literal(col), justify="left" if col == "model" else "right")
    for r in rates:
        cells: list[Any] = [literal(r["model"]), count(r["generations"]), count(r["passed"]), count(r["blocked"]),
                            count(r.get("held", 0)), count(r["pending"]), count(r.get("overridden", 0))]
        for name in gate_names:
            cells.append(percent(r["gates"].get(name, {}).get("pass_rate")))
        table.add_row(*cells)
    console().print(table)


def print_unchecked(sentences: list[str]) -> None:
    """What no blocking gate checked, one line per set of categories, in bold: shown wherever pass rates are."""
    from rich.text import Text

    out = console()
    for sentence in sentences:
        out.print(Text.assemble(("unchecked: ", "bold yellow"), literal(sentence)))


def print_generate(doc: dict[str, Any]) -> None:
    """``sbs generate``'s summary: per model, what was stored, cached or failed, tokens, cost and speed."""
    from rich.table import Table

    table = Table(title=f"generations for {count(doc['prompts'])} prompt(s)")
    for col in ("model", "params", "stored", "cached", "failed", "tokens in", "tokens out", "cost", "TTFT s",
                "tokens/s", "total tok/s", "seconds"):
        table.add_column(col, justify="left" if col in ("model", "params") else "right")
    for m in doc["models"]:
        table.add_row(literal(m["model"]), m["params_hash"][:8], count(m["stored"]), count(m["cached"]),
                      count(m["failed"]), count(m["tokens_in"]), count(m["tokens_out"]),
                      DASH if m["cost"] is None else f"{m['cost']:.4f}", fixed(m["ttft_s"], 3),
                      fixed(m["tokens_per_s"], 1), fixed(m["throughput_tokens_per_s"], 1), fixed(m["seconds"], 1))
    console().print(table)


def print_gate_eval(report: Any) -> None:
    """``sbs gate eval``: each gate's quality on labelled rows (all and per language), then its threshold sweep."""
    from rich.table import Table

    def pct(v: Any) -> str:
        return percent(v, 2)

    out = console()
    table = Table(title=f"gate quality on {count(report.rows)} labelled rows")
    for col in ("gate", "language", "blocking", "threshold", "toxic", "benign", "precision", "recall", "F1",
                "false-block rate", "false blocks"):
        table.add_column(col, justify="left" if col in ("gate", "language") else "right")
    for g in report.gates:
        for lang, m in [("all", g.as_dict()), *g.by_language.items()]:
            table.add_row(literal(g.gate if lang == "all" else ""), literal(lang),
                          "yes" if g.blocking else "no", "—" if g.threshold is None else f"{g.threshold:g}",
                          count(m["toxic"]), count(m["benign"]), pct(m["precision"]), pct(m["recall"]),
                          pct(m["f1"]), pct(m["false_block_rate"]), count(m["fp"]))
    out.print(table)
    if any(g.by_category for g in report.gates):
        per = Table(title="recall and false blocks per category (rows that name one)")
        for col in ("gate", "category", "language", "checks it", "toxic", "recall", "benign", "false-block rate"):
            per.add_column(col, justify="left" if col in ("gate", "category", "language", "checks it") else "right")
        for g in report.gates:
            first = True
            for category, m in g.by_category.items():
                declared = "—" if g.gate == "blocking gates" else "yes" if category in g.categories else "no"
                for lang, cm in [("all", m), *g.by_category_language.get(category, {}).items()]:
                    per.add_row(literal(g.gate if first else ""), literal(category if lang == "all" else ""),
                                literal(lang), declared if lang == "all" else "", count(cm["toxic"]),
                                pct(cm["recall"]), count(cm["benign"]), pct(cm["false_block_rate"]))
                    first = False
        out.print(per)
    for g in report.gates:
        if not g.sweep:
            continue
        sweep = Table(title=literal(f"{g.gate}: threshold sweep (blocks at {'≥' if g.higher_is_worse else '<'})"))
        for col in ("threshold", "precision", "recall", "F1", "false-block rate", "blocked"):
            sweep.add_column(col, justify="right")
        for point in g.sweep:
            mark = " *" if point["configured"] else ""
            sweep.add_row(f"{point['threshold']:g}{mark}", pct(point["precision"]), pct(point["recall"]),
                          pct(point["f1"]), pct(point["false_block_rate"]), count(point["blocked"]))
        out.print(sweep)
    if report.uncovered:
        listed = ", ".join(f"{lang} {n}" for lang, n in report.uncovered.items())
        out.print(literal(f"uncovered (no blocking gate reads the language): {listed}"))
    print_unchecked([u["sentence"] for u in getattr(report, "unchecked", [])])


# -- A/B and funnel ---------------------------------------------------------------------------------------------

def _signed(value: float | None) -> str:
    return significant(value, 3, signed=True)


def _lift(value: float | None) -> str:
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
            lift = (DASH if c.lift is None else f"{_lift(c.lift)} [unbounded]" if c.lift_ci_low is None
                    else f"{_lift(c.lift)} {_ab_interval(c.lift_ci_low, c.lift_ci_high, _lift)}")
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


def print_funnel(view: Any) -> None:
    """``sbs funnel``: the stages side by side per model, per-gate pass rates, rank agreement between stages —
    a :class:`~sbs_tui.core.views.funnel.FunnelView`, the one the review app's funnel tab draws."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = console()
    keys = [s.key for s in view.stages]
    ab = [s for s in view.stages if s.key.startswith("ab:")]
    show_gates = any(r.gates and (r.gates.get("passed") or r.gates.get("blocked") or r.gates.get("gates"))
                     for r in view.rows)

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
                cells.append(Text.assemble(f"{significant(d['estimate'])} {_lift(d['lift'])}", mark))
        table.add_row(*cells)
    out.print(table)
    if show_gates or view.unchecked:
        print_unchecked(list(view.unchecked))
    if "side_by_side" in keys and view.voters:
        from sbs_tui.core.scope import described

        out.print(Text(f"side-by-side: {described(view.voters, view.votes)} (--voters auto|humans|judges|all)",
                       style="dim"))
    if ab:
        out.print(Text("A/B: estimate and lift over the control; * significant (Holm-adjusted).", style="dim"))
    if view.gate_names:
        per_gate = Table(title=Text("pass rate per gate", style="bold"), title_justify="left", box=box.SIMPLE_HEAD)
        per_gate.add_column("model", overflow="fold")
        for gate in view.gate_names:
            per_gate.add_column(literal(gate), justify="right")
        for row in view.rows:
            gates = (row.gates or {}).get("gates", {})
            per_gate.add_row(literal(row.model), *[
                DASH if gate not in gates else percent(gates[gate]["pass_rate"]) for gate in view.gate_names])
        out.print(per_gate)

    if view.correlations:
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
        out.print(corr)
        for note in view.notes:
            out.print(Text.assemble("  ", literal(note)))
    if view.disagreements:
        out.print(Text("where the stages disagree", style="bold"))
        for sentence in view.disagreements:
            out.print(Text.assemble("  • ", literal(sentence)))
    elif view.verdict:
        out.print(Text(view.verdict, style="green" if not view.notes else "yellow"))


# -- queue ------------------------------------------------------------------------------------------------------

QUEUE_STATUS_LABELS = {
    "pairs": "pairs", "open": "open (still collecting votes)", "gold": "gold (attention checks)",
    "held_back": "held back (identity leaks)", "votes": "queue votes", "gate_passed": "gates: pairs passed",
    "gate_pending": "gates: pairs pending", "gate_blocked": "gates: pairs blocked",
}


def print_queue_status(view: Any) -> None:
    """``sbs queue status``: the queue's counts, the settings it was last built with, and each annotator's
    progress — a :class:`~sbs_tui.core.views.queue.QueueView`, the one the review app's Queue tab draws."""
    from rich.table import Table
    from rich.text import Text

    out = console()
    config = view.config or {}
    counts = Table(title=Text("queue", style="bold"), title_justify="left", box=None, show_header=False)
    counts.add_column("what")
    counts.add_column("count", justify="right")
    for key, value in view.summary.items():
        label = QUEUE_STATUS_LABELS.get(key, key.replace("_", " "))
        counts.add_row(literal(label), count(value) if finite(value) is not None else literal(_plain(value)))
    out.print(counts)
    out.print()
    if config:
        built = Table(title=Text("built with", style="bold"), title_justify="left", box=None, show_header=False)
        built.add_column("setting")
        built.add_column("value")
        for key, value in config.items():
            built.add_row(literal(key.replace("_", " ")), literal(_plain(value)))
        out.print(built)
    else:
        out.print(Text("no queue built yet: run `sbs queue build`", style="dim"))
    people = [a for a in view.annotators if a.remaining is not None]
    if people:
        table = Table(title=Text("annotators", style="bold"), title_justify="left")
        for col in ("annotator", "done", "skipped", "remaining", "cap"):
            table.add_column(col, justify="left" if col == "annotator" else "right")
        for a in people:
            table.add_row(literal(a.annotator), count(a.done), count(a.skipped), count(a.remaining),
                          DASH if a.cap is None else count(a.cap))
        out.print()
        out.print(table)


def _plain(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value) or DASH
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) or DASH
    return str(value)


def print_accounts(rows: list[dict[str, Any]]) -> None:
    """``sbs annotators list``: name, role, issued, revoked."""
    from rich.table import Table

    table = Table(title="team accounts (sbs serve)")
    for column in ("annotator", "role", "token issued", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(literal(row["name"]), literal(row["role"]), literal(row["created_at"]),
                      literal(row["revoked_at"] or ""))
    console().print(table)


def print_flags(flagged: Iterable[dict[str, Any]]) -> None:
    """``sbs queue flags``: pairs annotators flagged, with their reasons."""
    from rich.table import Table

    rows = list(flagged)
    table = Table("pair", "annotator", "reason", "status", "prompt", "models", title=f"{len(rows)} flagged")
    for row in rows:
        table.add_row(str(row["pair_id"]), literal(row["annotator"]), literal(row["reason"] or ""),
                      literal(row["status"]), literal(row["prompt"][:60]),
                      literal(f"{row['model_a']} vs {row['model_b']}"))
    console().print(table)
