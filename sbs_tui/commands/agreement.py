"""`sbs agreement` — how far annotators agree, position bias, outliers, judge vs humans, gold accuracy."""

from __future__ import annotations

import click

from sbs_tui.core.scope import VOTERS, VOTERS_HELP


@click.command("agreement")
@click.option("--voters", type=click.Choice(VOTERS), default="auto", show_default=True,
              help=VOTERS_HELP + " Judges are compared with the human majority whichever is chosen.")
@click.option("--annotator", "annotators", multiple=True, metavar="NAME",
              help="Only votes by these annotators (repeatable).")
@click.option("--category", default=None, help="Only votes on prompts of this category.")
@click.option("--include-flagged", is_flag=True, help="Count votes flagged by annotators (excluded by default).")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
@click.pass_context
def agreement_command(ctx: click.Context, voters: str, annotators: tuple[str, ...], category: str | None,
                      include_flagged: bool, fmt: str) -> None:
    """Inter-annotator agreement (percent, Cohen's κ per pair, Fleiss' κ, Krippendorff's α), position bias
    (binomial test), outlier annotators, LLM judge vs human majority, order consistency, gold accuracy."""
    from sbs_tui.core.analysis.agreement import analyse_store
    from sbs_tui.present.text import escape

    store = ctx.obj.open_store(read_only=True)
    try:
        report = analyse_store(store, annotators=annotators, category=category, include_flagged=include_flagged,
                               voters=voters)
    finally:
        store.close()
    for warning in report.warnings:
        click.echo(f"warning: {escape(warning)}", err=True)
    doc = report.to_json()
    if fmt == "json":
        import json

        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        from sbs_tui.present.tables.agreement import print_agreement

        print_agreement(doc)
