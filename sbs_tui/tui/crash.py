"""How our Textual apps end after an unexpected error: one line and a log file, never a traceback with locals.

Why: Textual's default crash report is a Rich traceback *with local variables*. In the annotator app that
printed ``model_a='falcon-7b-instruct', model_b='vicuna-13b-v1.5', shown_left='model_a'`` — it unblinded the
pair on screen. :class:`CrashReport` replaces that report (``App._fatal_error``, the one place Textual renders it)
with one line naming a log file (printed by ``_print_error_renderables`` once the terminal is restored, unwrapped);
the log holds the traceback without locals, with the names the app lists in
:meth:`CrashReport.crash_redactions` replaced. Everything else (exit code 1, Pilot re-raising the error in tests)
is Textual's own behaviour, unchanged.
"""

from __future__ import annotations

from sbs_tui.crashlog import write_crash_log


class CrashReport:
    """Mixin for an ``App``: put it before ``App`` in the bases."""

    _crash_error: BaseException | None = None
    _crash_line: str | None = None

    def crash_redactions(self) -> list[str]:
        """Strings that must not appear in the crash log (e.g. model names in a blind app)."""
        return []

    def _handle_exception(self, error: Exception) -> None:
        if self._crash_error is None:
            self._crash_error = error
        super()._handle_exception(error)  # type: ignore[misc]

    def _fatal_error(self) -> None:
        error = self._crash_error
        what = getattr(self, "TITLE", None) or "app"
        try:
            redact = self.crash_redactions()
        except Exception:
            redact = []
        log = write_crash_log(error, what=what, redact=redact) if error is not None else None
        detail = type(getattr(error, "error", None) or error).__name__ if error is not None else "unknown"
        where = f"details in {log}" if log else "no log file could be written"
        self.bell()  # type: ignore[attr-defined]
        # Written as plain text once the terminal is restored (see below): nothing is parsed as markup, no
        # exception message (which may hold data) is shown, and the line is not wrapped or cropped to the
        # terminal's width (a log path broken over lines cannot be copied).
        self._crash_line = f"error: {what} stopped because of an internal error ({detail}); {where}"
        self._close_messages_no_wait()  # type: ignore[attr-defined]

    def _print_error_renderables(self) -> None:
        if self._crash_line is None:
            super()._print_error_renderables()  # type: ignore[misc]
            return
        console = self.error_console  # type: ignore[attr-defined]
        console.file.write(self._crash_line + "\n")
        console.file.flush()
        self._crash_line = None
        self._exit_renderables.clear()  # type: ignore[attr-defined]
