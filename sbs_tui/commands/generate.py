"""`sbs generate` — answers from the models declared as ``[models.NAME]`` (or a one-off endpoint), stored as
generations with their parameters; resumable.

Thin: options → :class:`sbs_tui.core.generate.generation.GenerateRequest` → :func:`sbs_tui.core.generate.generation.run_generate`
→ a table (or ``--format json``) on stdout, one summary line on stderr. Exit 1 when some prompts failed, 2 on
bad input or config, 130 after Ctrl+C (what arrived is kept; the line says what is left).
"""

from __future__ import annotations

import click

from sbs_tui.cli_params import given, setting_option
from sbs_tui.core.settings import ModelSettings


@click.command("generate")
@click.option("--prompts", "prompts_file", default=None, metavar="FILE",
              help="Prompts: JSONL/JSON/CSV rows with prompt (or instruction), optional prompt_id, category.")
@click.option("--from-db", is_flag=True, help="Use the prompts already in the database instead.")
@click.option("--model", "models", multiple=True, required=True, metavar="NAME",
              help="A model declared as [models.NAME] in the config (repeat for several).")
@click.option("--base-url", default=None, metavar="URL",
              help="One-off endpoint for an undeclared --model (or overriding a declared one's base_url).")
@click.option("--served-model", default=None, metavar="NAME",
              help="The name the endpoint serves the model under (one --model only; default: its name).")
@click.option("--limit", default=None, type=click.IntRange(1), help="Only the first N prompts.")
# These three override every --model's [models.NAME] key of the same name; default, help and range come from the
# schema (core.settings.ModelSettings), and only a typed flag is passed on (cli_params.given).
@setting_option(ModelSettings, "concurrency", type=int)
@setting_option(ModelSettings, "max_tokens", type=int)
@setting_option(ModelSettings, "temperature", type=float)
@click.option("--seed", default=None, type=int, help="Sampling seed (sent to the endpoint).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
@click.pass_context
def generate_command(ctx: click.Context, prompts_file, from_db, models, base_url, served_model, limit, concurrency,
                     max_tokens, temperature, seed, fmt, show_progress) -> None:
    """Generate answers for every prompt with each --model and store them as generations (gated like imports,
    then queued). A rerun sends nothing for answers already stored with the same parameters."""
    import json

    from sbs_tui.core.generate.generation import GenerateRequest, run_generate
    from sbs_tui.errors import ExitCode
    from sbs_tui.progress import count_progress

    request = GenerateRequest(models=models, prompts_file=prompts_file, from_db=from_db, limit=limit, seed=seed,
                              base_url=base_url, served_model=served_model,
                              **given(ctx, "concurrency", "max_tokens", "temperature"))
    bar = count_progress("generating", enabled=show_progress)
    store = ctx.obj.open_store(create=True)  # like an import, it brings the answers in
    try:
        report = run_generate(store, ctx.obj.settings, request, on_total=bar.start if bar else None,
                              progress=bar.advance if bar else None)
    finally:
        if bar is not None:
            bar.stop()
        store.close()
    if report.prompts == 0:
        click.echo("warning: no prompts to answer" + (" (the database has none: import some, or use --prompts "
                                                      "FILE)" if from_db else ""), err=True)
    doc = report.as_dict()
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        from sbs_tui.present.tables.gates import print_generate

        print_generate(doc)
    from sbs_tui.present.text import escape

    for m in report.models:
        if m.failure:
            click.echo(f"error: {escape(m.model)}: {escape(m.failure)}", err=True)
    if report.interrupted:
        click.echo(f"interrupted: {report.stored} answer(s) stored, {report.left} left — run the same command "
                   "again to continue", err=True)
        ctx.exit(130)
    click.echo(f"{report.stored} answer(s) stored, {sum(m.cached for m in report.models)} already stored, "
               f"{report.failed} failed; {report.seconds:.1f}s", err=True)
    if report.failed:
        click.echo("some prompts failed: run the same command again to retry them", err=True)
        ctx.exit(ExitCode.CHECK_FAILED)
