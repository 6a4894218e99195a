"""``sbs report --out FILE.html|FILE.md``: the whole funnel in one shareable, self-contained document."""

from __future__ import annotations

import click

from sbs_tui.cli_params import OutPath, one_blas_thread
from sbs_tui.core.scope import VOTERS, VOTERS_HELP


@click.command("report")
@click.option("--out", "out_path", required=True, type=OutPath(),
              help="FILE.html (self-contained: inline styles and SVG plots, nothing loaded at view time), FILE.md, "
                   "or - for stdout.")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default=None,
              help="Document format (default: from the --out suffix; Markdown for -).")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(0, 100_000),
              help="Bootstrap rounds for the ranking's intervals.")
@click.option("--baseline", default=None, metavar="MODEL", help="Also report win rates against this model.")
@click.option("--voters", type=click.Choice(VOTERS), default="auto", show_default=True,
              help=VOTERS_HELP + " One choice for every section of the report.")
@click.pass_obj
def report_command(obj, out_path: str | None, fmt: str | None, bootstrap: int, baseline: str | None,
                   voters: str) -> None:
    """Write the funnel, rankings with CI plots, win matrix, agreement, gates and A/B results to one file."""
    one_blas_thread()
    from pathlib import Path

    from sbs_tui.core.views.report import ReportRequest, write_report
    from sbs_tui.errors import InputError

    target = Path(out_path) if out_path is not None else None
    suffix = target.suffix.lower() if target is not None else ".md"
    if fmt is None and suffix not in (".html", ".htm", ".md"):
        raise InputError("the report is written as .html or .md (or give --format)", field="--out")
    fmt = fmt or ("md" if suffix == ".md" else "html")
    obj.require_database("import votes or generations first: sbs import ...")
    config_text = Path(obj.config_path).read_text(encoding="utf-8") if obj.config_path else None
    if fmt == "md":
        from sbs_tui.present.report_md import render_markdown as render
    else:
        from sbs_tui.present.report_html import render_html as render
    with obj.open_store(read_only=True) as store:
        write_report(store, ReportRequest(bootstrap=bootstrap, baseline=baseline, voters=voters), target, render,
                     db_path=obj.db_path, config_text=config_text)
    if target is not None:
        click.echo(f"wrote {target}", err=True)
