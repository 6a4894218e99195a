"""`sbs demo` — a working end-to-end session on the bundled sample data, in a temporary database.

Each step runs the real `sbs` command in a subprocess and prints it first, so the demo doubles as a tour of the
commands a user would type. The last step opens the annotator app (skipped with ``--headless``).
"""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--headless", is_flag=True, help="Run the non-interactive part only and print what it did.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Sample data folder (default: the bundled sample_data/).")
@click.option("--keep", "keep_dir", type=click.Path(file_okay=False), default=None,
              help="Write the demo database into this folder and keep it (default: a temporary folder).")
@click.option("--annotator", default="demo", show_default=True, help="Annotator name for the app step.")
def demo(headless: bool, data_dir: str | None, keep_dir: str | None, annotator: str) -> None:
    """Import the sample data, gate it, build the judging queue, rank the models, then open the annotator app."""
    from sbs_tui.demo import run_demo

    raise SystemExit(run_demo(headless=headless, data_dir=data_dir, keep_dir=keep_dir, annotator=annotator))
