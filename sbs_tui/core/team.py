"""Team campaigns: annotator tokens and roles, the personal sign-in link, and online backups.

A lead runs ``sbs annotators add NAME [--lead]`` once per person and hands out the link it prints; ``sbs serve``
then checks every page and WebSocket against :func:`resolve_token`. Tokens are ``secrets.token_urlsafe(24)``
(192 bits): far beyond guessing, so the stored SHA-256 digest needs no salt or slow hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.store import Store
    from sbs_tui.core.store.accounts import Account

ROLES = ("annotator", "lead")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_annotator(store: Store, name: str, *, lead: bool = False) -> str:
    """Create (or re-issue) ``name``'s sign-in token and return it; only its digest is stored."""
    name = name.strip()
    if not name:
        raise InputError("must not be empty", field="name")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InputError("must not contain control characters", field="name")
    from sbs_tui.core.store.accounts import JudgeNameError

    token = secrets.token_urlsafe(24)
    try:
        store.accounts.set_token(name, token_digest(token), role="lead" if lead else "annotator")
    except JudgeNameError as exc:
        raise InputError(str(exc), field="name") from None
    return token


def revoke_annotator(store: Store, name: str) -> None:
    """Revoke ``name``'s token. Takes effect at once everywhere: their votes are refused from the next one on
    (checked in the vote's transaction), and ``sbs serve`` closes their open sessions and forgets their tickets
    and sign-in cookies within :data:`sbs_tui.web.server.REVOCATION_POLL_S`."""
    if not store.accounts.revoke(name):
        raise InputError(f"no active token for annotator {name!r}", field="name")


def list_annotators(store: Store) -> list[Account]:
    return store.accounts.all()


def resolve_token(store: Store, token: str | None) -> Account | None:
    """The live account this token signs in, or None (unknown, revoked, or no token)."""
    if not token or len(token) > 256:
        return None
    return store.accounts.by_token_digest(token_digest(token))


def default_app(role: str) -> str:
    """The app a personal link opens: a lead's opens the review app (what a lead signs in for), an annotator's the
    annotator app. A lead reaches the annotator app with ``&app=annotate`` (:func:`personal_link` prints both)."""
    return "review" if role == "lead" else "annotate"


def personal_link(token: str, *, host: str = "127.0.0.1", port: int = 8000, public_url: str | None = None,
                  app: str | None = None) -> str:
    """The sign-in link ``sbs serve`` accepts; without ``app`` it opens the role's :func:`default_app`."""
    base = public_url.rstrip("/") if public_url else f"http://{host}:{port}"
    return f"{base}/?token={quote(token)}" + (f"&app={quote(app)}" if app else "")


@dataclass(frozen=True)
class Enrolment:
    """What ``sbs annotators add`` hands out: the token (shown once) and the personal links made from it."""

    token: str
    link: str  # the role's default app
    annotate_link: str | None  # a lead's link to the annotator app (None for an annotator)


def enrol(store: Store, name: str, *, lead: bool = False, host: str = "127.0.0.1", port: int = 8000,
          public_url: str | None = None) -> Enrolment:
    """``sbs annotators add`` as one call: issue ``name``'s token (:func:`add_annotator`) and its sign-in links."""
    token = add_annotator(store, name, lead=lead)
    link = personal_link(token, host=host, port=port, public_url=public_url)
    annotate = personal_link(token, host=host, port=port, public_url=public_url, app="annotate") if lead else None
    return Enrolment(token, link, annotate)


def active_accounts(store: Store) -> list[Account]:
    """The accounts that can sign in now (not revoked)."""
    return [a for a in store.accounts.all() if a.active]


def backup(store: Store, target: str | Path) -> int:
    """Copy the live database to ``target`` as one consistent snapshot and verify the copy.

    Writers keep working during the copy, and cannot restart it (``VACUUM INTO``: one read transaction; see
    :meth:`Connection.copy_to`). The copy is written beside the target and renamed only after
    ``PRAGMA integrity_check`` passes, so a failed backup never leaves a half file under the requested name.
    SIGTERM and SIGINT stop the copy within a moment and remove the temporary file (then exit 130 as Ctrl+C
    does); one left by a backup killed outright (kill -9) is removed by the next backup to the same target.
    Returns the copy's size in bytes.
    """
    import signal
    import sqlite3
    import threading

    target = Path(target)
    if target.exists() and target.is_dir():
        raise InputError("is a directory", file=str(target))
    if not target.parent.exists():
        raise InputError("directory does not exist", file=str(target.parent))
    tmp = target.with_name(f".{target.name}.sbs-backup-tmp")
    leftovers = [tmp, tmp.with_name(tmp.name + "-journal")]
    stopped: list[int] = []
    handlers: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            handlers[sig] = signal.signal(sig, lambda signum, _frame: stopped.append(signum))
    try:
        for path in leftovers:  # a backup killed outright left these
            path.unlink(missing_ok=True)
        try:
            store.copy_to(tmp, stop=lambda: bool(stopped))
        except sqlite3.OperationalError:
            if stopped:
                raise KeyboardInterrupt from None
            raise
        if stopped:
            raise KeyboardInterrupt
        problem = store.check_file(tmp)
        if problem:
            raise InputError(f"the copy failed its integrity check: {problem}", file=str(target))
        tmp.replace(target)
    except PermissionError as exc:
        raise InputError(f"cannot write: {exc.strerror}", file=str(target)) from exc
    finally:
        for path in leftovers:
            path.unlink(missing_ok=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return target.stat().st_size
