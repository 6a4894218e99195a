"""`sbs agreement` — how far annotators agree, position bias, outliers, judge vs humans, gold accuracy."""

from __future__ import annotations

import click


@click.command("agreement")
@click.option("--annotator", "annotators", multiple=True, metavar="NAME",
              help="Only votes by these annotators (repeatable).")
@click.option("--category", default=None, help="Only votes on prompts of this category.")
@click.option("--include-flagged", is_flag=True, help="Count votes flagged by annotators (excluded by default).")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
@click.pass_context
def agreement_command(ctx: click.Context, annotators: tuple[str, ...], category: str | None,
                      include_flagged: bool, fmt: str) -> None:
    """Inter-annotator agreement (percent, Cohen's κ per pair, Fleiss' κ, Krippendorff's α), position bias
    (binomial test), outlier annotators, LLM judge vs human majority, order consistency, gold accuracy."""
    from sbs_tui.commands.rank import escape_controls
    from sbs_tui.core.agreement import analyse_store

    store = ctx.obj.open_store()
    try:
        report = analyse_store(store, annotators=annotators, category=category, include_flagged=include_flagged)
    finally:
        store.close()
    for warning in report.warnings:
        click.echo(f"warning: {escape_controls(warning)}", err=True)
    doc = report.to_json()
    if fmt == "json":
        import json

        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        _print_tables(doc)


def _p(x) -> str:
    from sbs_tui.results_render import _p as p_text

    return p_text(x)


def _f(x, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _print_tables(doc: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    from sbs_tui.commands.rank import literal as Text

    console = Console()
    o = doc["overall"]
    console.print(Text(
        f"{o['votes']:,} votes on {o['items']:,} items ({o['items_multi_annotated']:,} judged by ≥ 2 "
        f"annotators), {o['annotators']} annotators · percent agreement {_f(o['percent_agreement'], 1)} · "
        f"Fleiss κ {_f(o['fleiss_kappa'], 3)} · Krippendorff α {_f(o['krippendorff_alpha'], 3)}"))
    if o.get("unavailable_reason"):
        console.print(Text(f"agreement cannot be computed: {o['unavailable_reason']}"))
    if doc["pairs"]:
        t = Table(title="Cohen's κ per annotator pair")
        for c in ("Annotator A", "Annotator B", "Items", "Agree %", "κ"):
            t.add_column(c, justify="left" if c.startswith("Annotator") else "right")
        for p in doc["pairs"]:
            t.add_row(Text(p["annotator_a"]), Text(p["annotator_b"]), str(p["items"]),
                      _f(p["percent_agreement"], 1), _f(p["cohen_kappa"], 3))
        console.print(t)
    t = Table(title="Annotators (agreement with the majority of the others)")
    for c in ("Annotator", "Kind", "Votes", "Items", "Agree %", "Others %", "p (Holm)", "Outlier"):
        t.add_column(c, justify="left" if c in ("Annotator", "Kind") else "right")
    for a in doc["annotators"]:
        t.add_row(Text(a["annotator"]), a["kind"], f"{a['votes']:,}", str(a["items_with_majority"]),
                  _f(a.get("majority_agreement"), 1), _f(a.get("others_majority_agreement"), 1),
                  _p(a.get("p_value_holm", a.get("p_value"))), "yes" if a.get("outlier") else "")
    console.print(t)
    if doc["position_bias"]:
        t = Table(title="Position bias (decisive votes won by the left answer)")
        for c in ("Annotator", "Votes", "Left wins", "Left %", "p (Holm)"):
            t.add_column(c, justify="left" if c == "Annotator" else "right")
        for p in doc["position_bias"]:
            t.add_row(Text(p["annotator"]), f"{p['decisive_votes']:,}", f"{p['left_wins']:,}",
                      _f(p["left_share"], 1),
                      _p(p.get("p_value_holm", p.get("p_value"))) if p.get("testable", True) else "not testable")
        console.print(t)
    for j in doc["judge_vs_humans"]:
        console.print(Text(f"Judge {j['judge']} vs human majority: {j['items']} items, "
                           f"agreement {_f(j['percent_agreement'], 1)}%, κ {_f(j['cohen_kappa'], 3)}, "
                           f"{len(j['disagreements'])} disagreements listed in --format json"))
    for c in doc["order_consistency"]:
        console.print(Text(f"{c['annotator']}: same verdict in both orders on {c['consistent']}/"
                           f"{c['items_judged_in_both_orders']} items ({_f(c['consistency'], 1)}%)"))
    gold = doc["gold"]
    if not gold.get("available"):
        console.print(Text(f"Gold: {gold.get('note')}"))
    else:
        for g in gold["annotators"]:
            console.print(Text(f"Gold accuracy {g['annotator']}: {_f(g['accuracy'], 1)}% on {g['items']} items"))
