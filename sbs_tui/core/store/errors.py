"""The store's errors: what a problem with the database itself, or with a row against it, means to the caller.

Why their own module: opening a connection (:mod:`.connection`) raises them and the query modules' base class
(:mod:`.base`) is built on a connection; with the errors below both, neither imports the other back.
"""

from __future__ import annotations

from sbs_tui.errors import SbsError


class StoreError(SbsError):
    """A problem with the database itself (not with an input file): exit 2, as for bad input."""


class AlreadyJudgedError(StoreError):
    """A vote for a pair this annotator has already judged or skipped (e.g. from a second window)."""


class AccessRevokedError(StoreError):
    """A vote from an annotator whose sign-in token was revoked (``sbs annotators revoke``): refused, so a session
    that was open when the lead revoked it stores nothing more."""


class ConflictError(StoreError):
    """An input row contradicts what is already stored (e.g. another output for the same prompt and model)."""

    def __init__(self, message: str, origin: str | None = None, field: str | None = None):
        super().__init__(message)
        self.origin = origin  # "file:line" of the input row, when it came from a file
        self.field = field  # the input field that conflicts, when one does
