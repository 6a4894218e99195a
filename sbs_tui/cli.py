"""The `sbs` command line: a thin layer that parses, calls the core, and prints.

Results go to stdout, diagnostics (progress, summaries, errors) to stderr, so ``sbs rank --format json | jq``
always sees clean JSON. Exit codes follow :class:`sbs_tui.errors.ExitCode`.

Commands live in ``sbs_tui.commands.<module>`` and are imported only when used (or listed by ``--help``);
command modules import nothing heavy at module level, which keeps ``sbs --help`` well under half a second.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

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
    "judge": "judge:judge_command",
    "generate": "generate:generate_command",
    "arena": "arena:arena_command",
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

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Remember whether help was asked for anywhere: help must work even with a broken config file.
        ctx.meta["sbs.help"] = any(a in ("-h", "--help") for a in args)
        return super().parse_args(ctx, args)

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

    def open_store(self, *, read_only: bool = False):
        """The command's database. ``read_only`` (rank, agreement, export, ab, funnel) means the command only
        reads: a path that does not exist is an error — not a new, empty database and a report of nothing."""
        import sqlite3

        from sbs_tui.core.dberrors import describe
        from sbs_tui.core.store import Store, StoreError

        path = Path(self.db_path)
        if read_only and not path.exists():
            raise InputError("database not found (import votes or generations first, or pass --db / $SBS_DB)",
                             file=self.db_path)
        if path.is_dir():
            raise InputError("is a directory, not a database file", file=self.db_path)
        if read_only and (owner := _stranding_owner(path)) is not None:
            raise InputError(
                f"belongs to {owner} and is not open anywhere: reading it as you would leave -wal/-shm files that "
                f"{owner} cannot write (their next write would fail). Read it as {owner}, make it group-writable "
                f"(chmod g+w) for a shared group, or read a copy (sqlite3 {path} \".backup copy.db\")",
                file=self.db_path)
        try:
            store = Store(self.db_path)
        except StoreError as exc:
            raise InputError(str(exc)) from exc
        except sqlite3.Error as exc:
            raise InputError(f"cannot open the database: {describe(exc)}", file=self.db_path) from exc
        _recover_killed_imports(store)
        return store


def _stranding_owner(path: Path) -> str | None:
    """The owner's name when a read by this user would leave WAL files the owner cannot write, else None.

    SQLite creates ``-wal``/``-shm`` beside a WAL database when the first connection opens it, owned by whoever
    that is and with the database file's mode. A viewer running as another user, who may not write the database
    file itself, would so create files its owner cannot write. While the owner has the database open, the files
    exist and belong to the owner, and reading is harmless."""
    import os

    try:
        if path.stat().st_uid == os.geteuid() or Path(f"{path}-shm").exists() or os.access(path, os.W_OK):
            return None
        import pwd

        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (OSError, KeyError, ImportError):
        return None


def _recover_killed_imports(store) -> None:
    """Roll back imports whose process was killed (kill -9, power loss) before any command reads or writes —
    like SQLite's own hot-journal recovery, so no report ever counts half an import (``store.imports``)."""
    import sqlite3

    from sbs_tui.core.dberrors import retry_busy
    from sbs_tui.core.store import StoreError

    try:
        retry_busy(store.imports.recover_abandoned, timeout=60)
    except sqlite3.Error:
        pass  # e.g. a read-only database: nothing can be rolled back from here, and reading still works
    except StoreError as exc:  # its rows stay uncounted; never a reason to refuse the command
        click.echo(f"note: {exc}", err=True)
    try:
        for run in store.imports.elsewhere():
            click.echo(f"note: import #{run.run_id} ({run.kind}, started {run.started_at} on {run.host}, pid "
                       f"{run.pid}) has not finished; its rows are not counted until it does", err=True)
    except sqlite3.Error:
        pass


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_path", envvar="SBS_DB", default="sbs.db", show_default=True,
              help="SQLite database file (env SBS_DB).")
@click.option("--config", "config_path", envvar="SBS_CONFIG", default=None,
              help="TOML settings file (env SBS_CONFIG).")  # checked by load_settings: one error line
@click.version_option(__version__, prog_name="sbs")
@click.pass_context
def cli(ctx: click.Context, db_path: str, config_path: str | None) -> None:
    """sbs-tui: gates, blind side-by-side judging, rankings and A/B analysis for LLM releases."""
    ctx.obj = AppContext(db_path, config_path)
    _CURRENT_DB[:] = [db_path]
    if ctx.invoked_subcommand is not None and not ctx.meta.get("sbs.help"):
        # Validate the settings (file and SBS_* variables) up front, whichever command runs: a misspelt key is
        # an error (exit 2) even for commands that do not read that section.
        _ = ctx.obj.settings


# The database the running command was given, for naming it in a database error caught by ``main``.
_CURRENT_DB: list[str] = []


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map every error to one ``error:`` line and the contract's exit codes.

    Nothing reaches the terminal as a traceback: input and environment problems (a bad file, a database that is
    missing, read-only, damaged or full, a folder that cannot be written) exit 2 with what to fix; anything
    unexpected exits 1 with one line and the path of a log file holding the traceback (see ``crashlog``).
    """
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
    except Exception as exc:  # the top-level guard: classify, never print a traceback
        code, message = describe_failure(exc, argv if argv is not None else sys.argv[1:])
        click.echo(f"error: {message}", err=True)
        sys.exit(code)
    sys.exit(rv if isinstance(rv, int) else 0)


def describe_failure(exc: Exception, argv: list[str] | None = None) -> tuple[int, str]:
    """(exit code, one line) for an exception that escaped a command — the CLI's last line of defence."""
    import sqlite3

    from sbs_tui.crashlog import one_line, write_crash_log

    if isinstance(exc, sqlite3.Error):
        from sbs_tui.core.dberrors import describe

        where = _CURRENT_DB[0] if _CURRENT_DB else "database"
        return ExitCode.USAGE, f"{where}: {describe(exc)}"
    scorers_base = sys.modules.get("scorers.base")  # only loaded when a command used a scorer
    if scorers_base is not None and isinstance(exc, scorers_base.ScorerError):
        field = f"field {exc.field!r}: " if getattr(exc, "field", None) else ""
        return ExitCode.USAGE, f"{field}{exc}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return ExitCode.USAGE, f"{where}{exc.strerror}"
    log = write_crash_log(exc, what="sbs " + " ".join(a for a in (argv or [])[:4] if not a.startswith("-")))
    where = f"details in {log}" if log else "no log file could be written"
    return ExitCode.CHECK_FAILED, f"internal error ({one_line(exc)}); {where}"
