"""The `sbs` command line: a thin layer that parses, calls the core, and prints.

Results go to stdout, diagnostics (progress, summaries, errors) to stderr, so ``sbs rank --format json | jq``
always sees clean JSON. Exit codes follow :class:`sbs_tui.errors.ExitCode`.

Commands live in ``sbs_tui.commands.<module>`` and are imported only when used (or listed by ``--help``);
command modules import nothing heavy at module level, which keeps ``sbs --help`` well under half a second.
"""

from __future__ import annotations

import importlib
import sys

import click

from sbs_tui import __version__
from sbs_tui.errors import ExitCode, InputError

# name -> "module:attribute" (module under sbs_tui.commands)
COMMANDS: dict[str, str] = {
    "import": "ingest:import_group",
    "export": "export:export_group",
    "demo": "demo:demo",
    "score": "score:score_command",
    "gate": "gate:gate_command",
    "rank": "rank:rank_command",
    "agreement": "agreement:agreement_command",
    "annotate": "annotate:annotate_command",
    "review": "review:review_command",
    "queue": "queue:queue_group",
    "serve": "serve:serve_command",
    "ab": "ab:ab_command",
    "funnel": "funnel:funnel_command",
    "annotators": "annotators:annotators_group",
    "backup": "backup:backup_command",
    "report": "report:report_command",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attr = self.lazy_commands[cmd_name].split(":")
            module = importlib.import_module(f"sbs_tui.commands.{module_name}")
            return getattr(module, attr)
        return super().get_command(ctx, cmd_name)


class AppContext:
    """What the group options resolve to; commands receive it as ``ctx.obj``."""

    def __init__(self, db_path: str, config_path: str | None):
        self.db_path = db_path
        self.config_path = config_path
        self._settings = None

    @property
    def settings(self):
        from sbs_tui.config import load_settings

        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def open_store(self):
        from sbs_tui.core.store import Store, StoreError

        try:
            return Store(self.db_path)
        except StoreError as exc:
            raise InputError(str(exc)) from exc


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_path", envvar="SBS_DB", default="sbs.db", show_default=True,
              help="SQLite database file (env SBS_DB).")
@click.option("--config", "config_path", envvar="SBS_CONFIG", default=None,
              type=click.Path(dir_okay=False), help="TOML settings file (env SBS_CONFIG).")
@click.version_option(__version__, prog_name="sbs")
@click.pass_context
def cli(ctx: click.Context, db_path: str, config_path: str | None) -> None:
    """sbs-tui: gates, blind side-by-side judging, rankings and A/B analysis for LLM releases."""
    ctx.obj = AppContext(db_path, config_path)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map known errors to the contract's exit codes."""
    try:
        rv = cli.main(args=argv, prog_name="sbs", standalone_mode=False)
    except InputError as exc:
        click.echo(f"error: {exc.describe()}", err=True)
        sys.exit(ExitCode.USAGE)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(rv if isinstance(rv, int) else 0)
