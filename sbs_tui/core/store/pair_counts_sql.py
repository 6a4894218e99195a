"""The SQL of ``store.pair_counts``: its table, the triggers that keep it in step with ``votes``, and the queries
that count votes into its cells.

Why a module of its own: the migration that creates the table (:mod:`.schema`) and the queries that read and fold
it (:mod:`.pair_counts`) share these statements, and the schema sits below every query class — so the statements
live below both, importing nothing of the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sbs_tui.core.store.lite import sqlite_utils

RUNNING = "SELECT id FROM import_runs WHERE status = 'running'"
# Runs being rolled back (or given up: ``error`` set): they never commit, so their buckets are dropped whole and
# deleting their votes one by one need not count them down (a 10M-vote rollback would pay a trigger per vote).
ENDING = "SELECT id FROM import_runs WHERE status = 'running' AND error IS NOT NULL"
KINDS = {"humans": ("human",), "judges": ("judge",), "all": None}  # --voters → annotator kinds (None: every kind)

KEY = "kind, model_a_id, model_b_id, score_b, flagged"


def bucket_sql(row: str) -> str:
    """The bucket of a vote (``NEW`` or ``OLD`` in a trigger): its run while that run is running, else 0."""
    return f"(CASE WHEN {row}.run_id IN ({RUNNING}) THEN {row}.run_id ELSE 0 END)"


def kind_sql(row: str) -> str:
    return f"coalesce((SELECT kind FROM annotators WHERE id = {row}.annotator_id), 'human')"


def add_sql(row: str, sign: str) -> str:
    """One trigger statement: add (``sign`` '+') or take away ('-') the vote ``row`` from its cell."""
    return (f"INSERT INTO pair_counts (bucket, {KEY}, n) VALUES ({bucket_sql(row)}, {kind_sql(row)}, "
            f"{row}.model_a_id, {row}.model_b_id, {row}.score_b, {row}.flagged, {sign}1) "
            f"ON CONFLICT DO UPDATE SET n = n {sign} 1;")


def create(db: sqlite_utils.Database) -> None:
    """The table, its triggers, and the counts of the votes already stored (the migration)."""
    db.executescript(
        f"""
        CREATE TABLE pair_counts (
            bucket INTEGER NOT NULL,
            kind TEXT NOT NULL,
            model_a_id INTEGER NOT NULL,
            model_b_id INTEGER NOT NULL,
            score_b REAL NOT NULL,
            flagged INTEGER NOT NULL,
            n INTEGER NOT NULL,
            -- in the order a ranking groups by: its GROUP BY walks the key, no sort (a few thousand rows)
            PRIMARY KEY (model_a_id, model_b_id, score_b, kind, flagged, bucket)
        ) WITHOUT ROWID;
        CREATE TRIGGER pair_counts_insert AFTER INSERT ON votes WHEN NEW.run_id IS NULL BEGIN
            {add_sql("NEW", "+")}
        END;
        CREATE TRIGGER pair_counts_delete AFTER DELETE ON votes
            WHEN OLD.run_id IS NULL OR OLD.run_id NOT IN ({ENDING}) BEGIN
            {add_sql("OLD", "-")}
        END;
        CREATE TRIGGER pair_counts_update AFTER UPDATE OF model_a_id, model_b_id, score_b, flagged, annotator_id,
            run_id ON votes BEGIN
            {add_sql("OLD", "-")}
            {add_sql("NEW", "+")}
        END;
        """
    )
    db.execute(f"INSERT INTO pair_counts (bucket, {KEY}, n) {tally_sql('')}")


def tally_sql(where: str) -> str:
    """Counts of the votes matching ``where`` (a clause on ``v``, or ''), per bucket and cell."""
    return (f"SELECT {bucket_sql('v')}, {kind_sql('v')}, v.model_a_id, v.model_b_id, v.score_b, v.flagged, count(*) "
            f"FROM votes v{where} GROUP BY 1, 2, 3, 4, 5, 6")
