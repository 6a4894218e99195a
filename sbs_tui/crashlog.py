"""Where an unexpected error goes: a log file, never the terminal.

Why: a traceback on the terminal is useless to most users and, in the annotator app, dangerous — Textual's
default crash screen prints local variables, which named the two models of a blind pair. Both the CLI's
top-level guard and the apps' crash handler write the traceback (without locals, model names redacted where
the caller knows them) to a file and show one line naming that file.

The folder is ``$SBS_LOG_DIR`` if set, else the platform's per-user log folder (``~/.local/state/sbs-tui/log``
on Linux), else the temporary folder. Writing the log never raises: a crash handler that crashes hides the
first error.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

REDACTED = "<model>"


def log_dir() -> Path:
    """The folder crash logs go to (see the module docstring)."""
    env = os.environ.get("SBS_LOG_DIR")
    if env:
        return Path(env)
    try:
        import platformdirs

        return Path(platformdirs.user_log_dir("sbs-tui", appauthor=False))
    except Exception:  # pragma: no cover - platformdirs is a dependency; this is the belt to its braces
        return Path(tempfile.gettempdir()) / "sbs-tui-logs"


def format_exception(exc: BaseException, *, redact: Iterable[str] = ()) -> str:
    """The traceback of ``exc`` (chained causes included, no local variables), with ``redact`` strings replaced."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    # Longest first, so "model-7b-v2" is not half-replaced through "model-7b".
    for secret in sorted({s for s in redact if s and len(s) > 1}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def write_crash_log(exc: BaseException, *, what: str, redact: Iterable[str] = ()) -> Path | None:
    """Write ``exc``'s traceback to a new log file; returns its path, or None when no file could be written."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    header = f"sbs-tui {what}: unexpected error at {datetime.now().isoformat(timespec='seconds')}\n" \
             f"argv: {' '.join(sys.argv)}\npython: {sys.version.split()[0]}\n\n"
    try:
        body = format_exception(exc, redact=redact)
    except Exception:  # a hostile __str__ must not stop the log being written
        body = f"{type(exc).__name__} (its message could not be formatted)\n"
    for folder in (log_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"sbs-crash-{stamp}-{os.getpid()}.log"
            with open(path, "a", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(header + body)
            return path
        except OSError:
            continue
    return None


def one_line(exc: BaseException, *, limit: int = 200) -> str:
    """``exc`` as one short line: its type and the first line of its message."""
    try:
        message = str(exc).strip().splitlines()
    except Exception:
        message = []
    first = message[0] if message else ""
    if len(first) > limit:
        first = first[:limit] + "…"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
