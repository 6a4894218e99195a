"""Schema migrations: numbered so that name order is run order, and databases of earlier versions upgrade in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from sbs_tui.core.store import LEGACY_NAMES, MIGRATIONS, Store
from sbs_tui.core.store.migrate import migration

V1_DUMP = Path(__file__).parent / "data" / "store_v1.sql"  # written by the pre-package store (build_store_v1.py)
OLD_ORDER = ["0001_core", "0002_queue", "0050_benchmark_ab_details", "rank_0001_outcome_index", "0003_gate_results"]


def _load_dump(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(sql)
    conn.close()


def _applied(store: Store) -> list[tuple[str, str]]:
    return store.conn.execute("SELECT name, applied_at FROM _migrations ORDER BY rowid").fetchall()


def test_name_order_is_run_order() -> None:
    names = [name for name, _ in MIGRATIONS]
    assert names == sorted(names)
    assert [int(n[:4]) for n in names] == list(range(1, len(names) + 1))


def test_a_misnumbered_migration_is_refused() -> None:
    with pytest.raises(ValueError, match="numbered"):
        migration("0042_out_of_order")(lambda db: None)
    with pytest.raises(ValueError, match="NNNN_words"):
        migration("rank_0002_index")(lambda db: None)
    assert len(MIGRATIONS) == len({n for n, _ in MIGRATIONS})  # nothing was registered


def test_legacy_names_map_onto_the_same_migrations_in_the_same_order() -> None:
    names = [name for name, _ in MIGRATIONS]
    renamed = [LEGACY_NAMES.get(old, old) for old in OLD_ORDER]
    assert renamed == names[:len(OLD_ORDER)]  # the old file order is today's name order


def test_database_of_the_previous_version_upgrades_without_rerunning(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _load_dump(path, V1_DUMP.read_text())
    with Store(path) as store:
        applied = _applied(store)
        # renamed, not re-run (re-running 0003's ALTER TABLE would have failed; applied_at kept from v1)
        assert [name for name, _ in applied] == [name for name, _ in MIGRATIONS]
        assert {at for _, at in applied[:len(OLD_ORDER)]} == {"2026-12-01T00:00:00.000Z"}
        # the data survives and reads through today's queries
        assert store.count("generations") == 4 and store.count("votes") == 2
        names, rows = store.votes.outcomes()
        assert names == ["alpha", "beta"] and sorted(rows) == [(0, 1, 0.0, 1), (0, 1, 0.5, 1)]
        assert store.results.benchmarks()[0]["stderr"] == 0.01
        assert store.gates.status_counts()["alpha"]["passed"] == 2
        rates = store.gates.pass_rates()
        assert list(rates) == ["alpha"] and (rates["alpha"]["toxicity"].passed, rates["alpha"]["toxicity"].total) == (1, 1)
        assert store.queue.config() == {"overlap": 1}
        exported = list(store.exports.votes())
        assert [v["annotator"] for v in exported] == ["judge", "ann"]
    with Store(path) as store:  # and reopening changes nothing
        assert _applied(store) == applied


def test_partly_migrated_old_database_runs_only_what_it_lacks(tmp_path: Path) -> None:
    # A database last opened by a version that had only the first three migrations (old names).
    full = V1_DUMP.read_text()
    path = tmp_path / "partial.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL "
                 "DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))")
    for (name, fn), old in zip(MIGRATIONS[:3], OLD_ORDER[:3], strict=True):
        fn(sqlite_utils.Database(conn))
        conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, 'then')", (old,))
    conn.commit()
    conn.close()
    with Store(path) as store:
        applied = _applied(store)
        assert [n for n, _ in applied] == [n for n, _ in MIGRATIONS]
        assert [at for _, at in applied[:3]] == ["then"] * 3 and "then" not in {at for _, at in applied[3:]}
        indexes = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert not {"idx_votes_visible_outcomes", "idx_votes_models"} & indexes
        assert store.table_columns("gate_results")
    assert "0050_benchmark_ab_details" in full  # the fixture really is an old-named database
