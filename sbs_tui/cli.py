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
from typing import TYPE_CHECKING

import click

from sbs_tui import __version__
from sbs_tui.errors import ExitCode, InputError, SbsError

if TYPE_CHECKING:
    from sbs_tui.core.settings import Settings

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

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                          list[str]]:
        """``sbs rnak``: no such command — did you mean 'rank'?"""
        name = click.utils.make_str(args[0]) if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.6)
            if close:
                ctx.fail(f"No such command {name!r}. Did you mean {close[0]!r}?")  # click's words for subcommands
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # click would exit 1 for it; the README keeps 1 for "a check failed"
            raise ClosedPipe() from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attr = self.lazy_commands[cmd_name].split(":")
            module = importlib.import_module(f"sbs_tui.commands.{module_name}")
            return getattr(module, attr)
        return super().get_command(ctx, cmd_name)


class ClosedPipe(Exception):
    """The reader of stdout went away (``sbs rank | head -2``): not an error, exit 0 quietly."""


class AppContext:
    """What the group options resolve to; commands receive it as ``ctx.obj``."""

    def __init__(self, db_path: str, config_path: str | None, create: bool = False):
        self.db_path = db_path
        self.config_path = config_path
        self.create = create  # --create: a command may start a new, empty database
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        from sbs_tui.config import load_settings

        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def open_store(self, *, read_only: bool = False, create: bool = False):
        """The command's database. A path that does not exist is an error (a misspelt ``--db`` must not become a
        new, empty database that takes tokens or votes, nor a report of nothing) unless the command makes one
        (``create``: the imports) or the user said ``sbs --create``. ``read_only`` (rank, agreement, export,
        ab, funnel) means the command only reads."""
        import sqlite3

        from sbs_tui.core.dberrors import describe
        from sbs_tui.core.store import Store, StoreError

        path = Path(self.db_path)
        if not path.exists() and (read_only or not (create or self.create)):
            self.require_database(can_create=not read_only)
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


    def require_database(self, hint: str = "sbs import ... makes one", *, can_create: bool = False) -> None:
        """An input error (exit 2) when the database file does not exist, with a did-you-mean over the
        ``*.db`` files beside it."""
        import difflib

        path = Path(self.db_path)
        if path.exists():
            return
        try:
            beside = sorted(p.name for p in (path.parent if str(path.parent) else Path(".")).glob("*.db"))
        except OSError:
            beside = []
        close = difflib.get_close_matches(path.name, beside, n=1, cutoff=0.75)
        mean = f"; did you mean {str(path.with_name(close[0]))!r}?" if close else ""
        create = "; sbs --create ... starts an empty one" if can_create else ""
        raise InputError(f"database not found ({hint}{create}){mean}", file=self.db_path)


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
@click.option("--create", is_flag=True, help="Let a writing command start a new, empty database at --db (only the "
              "imports, generate and the demo make one without it).")
@click.version_option(__version__, prog_name="sbs")
@click.pass_context
def cli(ctx: click.Context, db_path: str, config_path: str | None, create: bool) -> None:
    """sbs-tui: gates, blind side-by-side judging, rankings and A/B analysis for LLM releases."""
    ctx.obj = AppContext(db_path, config_path, create)
    _CURRENT_DB[:] = [db_path]
    if ctx.invoked_subcommand is not None and not ctx.meta.get("sbs.help") and _has_settings(config_path):
        # Validate the settings (file and SBS_* variables) up front, whichever command runs: a misspelt key is
        # an error (exit 2) even for commands that do not read that section.
        settings = ctx.obj.settings
        if settings.gates:  # [gates.NAME]: an unknown gate or scorer too (the registry loads only here)
            from sbs_tui.core.gates.policy import load_policy

            load_policy(settings)


# SBS_* variables that are not settings (``sbs_tui.config`` does not read them): they never need checking.
NOT_SETTINGS = frozenset({"SBS_DB", "SBS_CONFIG", "SBS_CACHE_DIR", "SBS_LOG_DIR", "SBS_PARENT_PID", "SBS_USER"})


def _has_settings(config_path: str | None) -> bool:
    """Whether anything could set a setting: a config file, or an ``SBS_*`` variable that may name one. Without
    either every setting is its default and there is nothing to check — and nothing to load: the settings
    schema costs ~20 ms of CPU, a tenth of ``sbs rank --ci sandwich``'s start-up (a command that reads its
    settings still loads them, through ``ctx.obj.settings``)."""
    import os

    return bool(config_path) or any(var.startswith("SBS_") and var not in NOT_SETTINGS and text != ""
                                    for var, text in os.environ.items())


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
    except SbsError as exc:  # input, store, scorer and endpoint errors: each carries its line and exit code
        click.echo(exc.stderr_line(), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        if isinstance(exc, click.NoSuchOption) and exc.option_name in ("--config", "--db"):
            click.echo(f"{exc.option_name} is a global option: sbs {exc.option_name} VALUE COMMAND ...", err=True)
        sys.exit(ExitCode.USAGE if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (BrokenPipeError, ClosedPipe):
        _quiet_stdout()
        sys.exit(0)
    except Exception as exc:  # the top-level guard: classify, never print a traceback
        code, message = describe_failure(exc, argv if argv is not None else sys.argv[1:])
        click.echo(f"error: {message}", err=True)
        sys.exit(code)
    sys.exit(rv if isinstance(rv, int) else 0)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail on the closed pipe again (the
    recipe of Python's ``signal`` documentation for SIGPIPE)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (an in-process test runner)
        pass


def describe_failure(exc: Exception, argv: list[str] | None = None) -> tuple[int, str]:
    """(exit code, one line) for an exception that escaped a command — the CLI's last line of defence."""
    import sqlite3

    from sbs_tui.crashlog import one_line, write_crash_log

    if isinstance(exc, sqlite3.Error):
        from sbs_tui.core.dberrors import describe

        where = _CURRENT_DB[0] if _CURRENT_DB else "database"
        return ExitCode.USAGE, f"{where}: {describe(exc)}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return ExitCode.USAGE, f"{where}{exc.strerror}"
    log = write_crash_log(exc, what="sbs " + " ".join(a for a in (argv or [])[:4] if not a.startswith("-")))
    where = f"details in {log}" if log else "no log file could be written"
    return ExitCode.CHECK_FAILED, f"internal error ({one_line(exc)}); {where}"
