"""``sbs agreement``'s tables: Cohen's κ per pair, annotators against the majority, position bias, judges, order
consistency, gold accuracy."""

from __future__ import annotations

from typing import Any

from sbs_tui.present.numbers import count, fixed, p_value
from sbs_tui.present.tables.console import console
from sbs_tui.present.tables.rank import counted
from sbs_tui.present.text import literal


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
