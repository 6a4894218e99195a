"""Opening a database and the state one connection keeps: pragmas, the transaction rule and name → id caches.

Rules kept here:

* A real file in WAL mode with a busy timeout, so the annotator app, a background gate worker and a lead's
  ``sbs rank`` can use one database at the same time.
* One connection per thread: a store must be used on the thread that opened it. Workers open their own
  ``Store(path)``.
* The connection runs in autocommit mode; every multi-statement write goes through :meth:`Connection.transaction`,
  which is ``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on any exception), so an import is all-or-nothing.
* Model and annotator names are stored once and referenced by integer id (1M votes group fast on integers); the
  ids are cached per connection and the cache is dropped when a transaction rolls back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Self

from sbs_tui.core.store.errors import StoreError
from sbs_tui.core.store.migrate import up_to_date
from sbs_tui.core.store.schema import apply_migrations

if TYPE_CHECKING:
    from sbs_tui.core.store.lite import sqlite_utils

BUSY_TIMEOUT_MS = 10_000


class Connection:
    """One SQLite connection with its pragmas, migrations applied, and the id caches every query module shares."""

    def __init__(self, path: str | Path | None = None, *, memory: bool = False):
        if memory or path is None or str(path) == ":memory:":
            conn = sqlite3.connect(":memory:", isolation_level=None)
            self.path: Path | None = None
        else:
            self.path = Path(path)
            if self.path.parent and not self.path.parent.exists():
                raise StoreError(f"directory for database does not exist: {self.path.parent}")
            conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path is not None:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"could not switch {self.path} to WAL mode (got {mode})")
            # WAL + NORMAL is durable against process crashes (a vote committed survives kill -9);
            # only an OS crash / power loss may lose the last transactions.
            conn.execute("PRAGMA synchronous = NORMAL")
            # Random-key index inserts (vote uids) thrash the default 2 MB page cache on large imports; this is a
            # ceiling, not an allocation: pages are cached only as they are touched.
            conn.execute("PRAGMA cache_size = -262144")
        self.conn = conn
        self.model_ids: dict[str, int] = {}
        self.annotator_ids: dict[str, int] = {}
        # Prompt ids this connection has written or seen in this process: votes repeat prompts many times, and
        # skipping their upserts is a third of a large vote import.
        self.known_prompt_ids: set[str] = set()
        # The import run whose batch this connection is writing (``store.imports.batch``): votes and generations
        # written meanwhile carry it, and stay uncounted until the run commits.
        self.import_run_id: int | None = None
        if not up_to_date(conn):
            apply_migrations(self.db)

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The connection as a sqlite-utils ``Database``, made on first use (migrations, nested transactions):
        importing sqlite-utils costs ~0.1 s of CPU that a read of an up-to-date database never needs."""
        from sbs_tui.core.store.lite import sqlite_utils

        return sqlite_utils.Database(self.conn)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """All-or-nothing block: BEGIN IMMEDIATE (takes the write lock up front), COMMIT or ROLLBACK.

        Nested use joins the outer transaction through a savepoint.
        """
        if self.conn.in_transaction:
            with self.db.atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            # Cached ids may name rows that the rollback removed.
            self.model_ids.clear()
            self.annotator_ids.clear()
            self.known_prompt_ids.clear()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                # A COMMIT that fails (disk full, I/O error) can leave the transaction open: roll it back so the
                # caller may simply try again, and nothing half-done is kept.
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                self.model_ids.clear()
                self.annotator_ids.clear()
                self.known_prompt_ids.clear()
                raise

    def set_busy_timeout(self, milliseconds: int) -> None:
        """How long a statement on this connection waits for another connection's lock before failing "busy".

        The default (``BUSY_TIMEOUT_MS``) suits commands; the annotator app sets a tiny one and polls for the lock
        itself, so its screen never freezes while someone else holds the write lock."""
        self.conn.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")

    def set_page_cache(self, kib: int) -> None:
        """At most ``kib`` KiB of SQLite page cache on this connection. The store's 256 MB suits imports (random-key
        index inserts); a connection that only reads, once, wants far less (see ``core.views.read_on_db``)."""
        self.conn.execute(f"PRAGMA cache_size = -{int(kib)}")

    # -- names → ids ----------------------------------------------------------------------------------------------

    def model_id(self, name: str, *, create: bool = True) -> int | None:
        cached = self.model_ids.get(name)
        if cached is not None:
            return cached
        row = self.conn.execute("SELECT id FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            if not create:
                return None
            row = (self.conn.execute("INSERT INTO models (name) VALUES (?)", (name,)).lastrowid,)
        self.model_ids[name] = row[0]
        return row[0]

    def annotator_id(self, name: str, *, kind: str | None = None, create: bool = True) -> int | None:
        cached = self.annotator_ids.get(name)
        if cached is not None:
            return cached
        row = self.conn.execute("SELECT id FROM annotators WHERE name = ?", (name,)).fetchone()
        if row is None:
            if not create:
                return None
            row = (
                self.conn.execute(
                    "INSERT INTO annotators (name, kind) VALUES (?, ?)", (name, kind or "human")
                ).lastrowid,
            )
        self.annotator_ids[name] = row[0]
        return row[0]

    def model_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM models ORDER BY name")]

    def model_names_by_id(self) -> dict[int, str]:
        return dict(self.conn.execute("SELECT id, name FROM models").fetchall())

    def missing_prompt_ids(self, ids: set[str]) -> set[str]:
        """Those of ``ids`` with no stored prompt (the others are remembered as known)."""
        if not ids:
            return set()
        found: set[str] = set()
        id_list = list(ids)
        for i in range(0, len(id_list), 500):
            chunk = id_list[i:i + 500]
            q = f"SELECT id FROM prompts WHERE id IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self.conn.execute(q, chunk))
        self.known_prompt_ids.update(found)
        return ids - found

    # -- whole tables ---------------------------------------------------------------------------------------------

    def count(self, table: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]

    def copy_to(self, target: Path, *, stop: Callable[[], bool] | None = None) -> None:
        """Online copy of this database into ``target`` (which must not exist): ``VACUUM INTO``, one read
        transaction, so the copy is one consistent snapshot that writers cannot restart. (The backup API in steps
        of 1,024 pages started over whenever another connection wrote between two steps: at ≥ 5 writes a second
        it never finished — issue 21.) ``stop`` is polled while it runs; when it returns True the copy is
        abandoned (``sqlite3.OperationalError: interrupted``) and ``target`` is left for the caller to remove."""
        if stop is not None:
            self.conn.set_progress_handler(lambda: 1 if stop() else 0, 20_000)
        try:
            self.conn.execute("VACUUM INTO ?", (str(target),))
        finally:
            if stop is not None:
                self.conn.set_progress_handler(None, 0)
        # A backup is one self-contained file: no -wal/-shm beside it to lose when it is copied elsewhere.
        dest = sqlite3.connect(str(target))
        try:
            dest.execute("PRAGMA journal_mode = DELETE")
        finally:
            dest.close()

    @staticmethod
    def check_file(path: Path) -> str | None:
        """``PRAGMA integrity_check`` of a database file: None when it is ok, else SQLite's first complaint."""
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
        return None if result == "ok" else str(result)

    def table_columns(self, table: str) -> list[str]:
        """Column names of a table or view; empty when it does not exist (for optional tables of other features).
        sqlite-utils reads the schema (``PRAGMA table_info`` underneath)."""
        return [column.name for column in self.db[table].columns]
