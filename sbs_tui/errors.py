"""Exit codes and the one error root that carries one (the CLI contract: 0 ok, 1 failed check, 2 bad input).

Every error the program raises on purpose derives from :class:`SbsError`: bad input (:class:`InputError`), a
database problem (``core.store.StoreError``), a scorer that cannot be built or run (``scorers.base.ScorerError``,
and its ``EndpointError``). Each says its exit code and its one line, so ``cli.main`` maps them all with one
``except`` and never has to know which modules were loaded."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # a gate or check the user asked for failed (e.g. --fail-on-block)
    USAGE = 2  # bad usage or bad input; nothing was written


class SbsError(Exception):
    """The root of the errors the program means: one line for the user (:meth:`describe`) and an exit code."""

    exit_code: int = ExitCode.USAGE

    def describe(self) -> str:
        return str(self)

    def stderr_line(self) -> str:
        """The one line on stderr."""
        return f"error: {self.describe()}"


class Interrupted(SbsError):
    """Ctrl+C (or SIGTERM) stopped a long command before it finished: what is left, in one line, and the shell's
    code for a command killed by SIGINT (130) — never the normal summary and 0, which read as "all done"."""

    exit_code = 130

    def stderr_line(self) -> str:
        return f"interrupted: {self.describe()}"


class InputError(SbsError):
    """Bad input, named precisely: file, line and field where known. Always exit code 2."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}"
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"field {self.field!r}: " if self.field else ""
        return f"{where}{field}{self.message}"
