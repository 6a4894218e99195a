"""``sbs gate``'s pass rates and blind spots, ``sbs gate eval``'s quality report, and ``sbs generate``'s summary."""

from __future__ import annotations

from typing import Any

from sbs_tui.present.numbers import DASH, count, fixed, percent
from sbs_tui.present.tables.console import console
from sbs_tui.present.text import literal


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
