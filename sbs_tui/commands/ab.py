"""`sbs ab` — every A/B variant against its control, per experiment and metric (table or JSON)."""

from __future__ import annotations

import click


@click.command("ab")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--control", default=None, metavar="VARIANT",
              help="Make VARIANT the control of every experiment that has it, stored in the database (sbs funnel "
                   "and the review app then use it too). Default: the control chosen at import.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Significance level; intervals are (1 - alpha).")
@click.pass_context
def ab_command(ctx: click.Context, fmt: str, control: str | None, alpha: float) -> None:
    """Analyse imported A/B results: Welch t-test or two-proportion z-test per variant, Holm-adjusted."""
    import json

    from sbs_tui.core.analysis.abtest import analyse_with_control
    from sbs_tui.errors import InputError

    store = ctx.obj.open_store(read_only=True)
    try:
        report, changed = analyse_with_control(store, alpha=alpha, control=control)
    finally:
        store.close()
    for experiment, chosen in sorted(changed.items()):
        click.echo(f"note: control of experiment {experiment!r} is now {chosen!r} (stored; sbs funnel and "
                   "the review app use it too)", err=True)
    if control is not None and report.results and all(r.control != control for r in report.results):
        raise InputError(f"no experiment has a variant named {control!r}", field="--control")
    for experiment, metric in report.single_variant:
        click.echo(f"note: experiment {experiment!r} metric {metric!r} has one variant; nothing to compare",
                   err=True)
    if not report.results:
        click.echo("no A/B results with two or more variants; import some with `sbs import ab FILE`", err=True)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, allow_nan=False))
        return
    from sbs_tui.present.tables.ab import print_ab_report

    print_ab_report(report)
