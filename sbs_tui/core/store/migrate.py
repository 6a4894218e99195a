"""How the schema's migrations are registered and run: names checked, applied in name order, each exactly once.

Why its own module: the migrations themselves (:mod:`.schema`) are a list that only grows; the rules that keep
them safe (a name is NNNN_words and numbered in sequence, a database from before the renumbering is upgraded
by renaming its rows, two processes opening a database at once never both migrate) are written once, here.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: see :func:`up_to_date`
    from sbs_tui.core.store.lite import sqlite_utils


Migration = Callable[["sqlite_utils.Database"], None]
MIGRATIONS: list[tuple[str, Migration]] = []

# Names written to ``_migrations`` by versions before the renumbering (they ran in file order, which was not name
# order). A database that recorded them is upgraded by renaming its rows; nothing is run again.
LEGACY_NAMES: dict[str, str] = {
    "0050_benchmark_ab_details": "0003_benchmark_ab_details",
    "rank_0001_outcome_index": "0004_vote_outcome_index",
    "0003_gate_results": "0005_gate_results",
}

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+$")


def migration(name: str) -> Callable[[Migration], Migration]:
    """Register a schema migration. Names are permanent: never rename or edit an applied migration.

    A name is ``NNNN_words`` with ``NNNN`` one more than the previous migration, so that the order they run in is
    the order they sort in (and a newcomer can tell which came first by reading ``_migrations``).
    """

    def register(fn: Migration) -> Migration:
        match = _NAME.match(name)
        if match is None:
            raise ValueError(f"migration name {name!r} is not NNNN_words")
        if int(match.group(1)) != len(MIGRATIONS) + 1:
            raise ValueError(f"migration {name!r} should be numbered {len(MIGRATIONS) + 1:04d}")
        MIGRATIONS.append((name, fn))
        return fn

    return register
def _rename_legacy(db: sqlite_utils.Database, applied: set[str]) -> set[str]:
    """Rename migrations recorded under their pre-renumbering names (see :data:`LEGACY_NAMES`)."""
    legacy = applied & LEGACY_NAMES.keys()
    if not legacy:
        return applied
    db.execute("BEGIN IMMEDIATE")
    try:
        for old in sorted(legacy):
            # Another process may have renamed it while we waited for the write lock: the UPDATE then matches nothing.
            db.execute("UPDATE _migrations SET name = ? WHERE name = ?", [LEGACY_NAMES[old], old])
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    return {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}


def up_to_date(conn: sqlite3.Connection) -> bool:
    """Whether this database has recorded every registered migration (under today's names): one read of
    ``_migrations``, so opening an up-to-date database — every command, every time — needs neither sqlite-utils
    (0.1 s of CPU to import, a third of ``sbs rank``'s start-up) nor a write. False when the table is missing."""
    try:
        applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    except sqlite3.OperationalError:  # no such table: a new database
        return False
    return all(name in applied for name, _ in MIGRATIONS)


def run_pending(db: sqlite_utils.Database) -> None:
    """Bring the schema up to date: run, in name order, every registered migration this database has not recorded
    (:func:`sbs_tui.core.store.schema.apply_migrations` is the caller: importing it registers them all)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL "
        "DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
    )
    applied = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = _rename_legacy(db, applied)
    for name, fn in MIGRATIONS:
        if name in applied:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                db.execute("COMMIT")
                continue
            fn(db)
            db.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
