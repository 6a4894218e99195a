"""The stored instruction difficulty of the length-controlled win rate (``store.difficulty``).

Why stored: AlpacaEval's LC holds each instruction's difficulty fixed, so a model's LC does not depend on which
other models are evaluated. Without a difficulty file, the first length-controlled ranking against a baseline fits
one from the models present and keeps it here with its date, models and verdict count; later rankings reuse it
until it is refitted on purpose (``sbs rank --refit-difficulty``). Older fits are deleted on a refit: only one
definition per baseline is ever in force.
"""

from __future__ import annotations

import json
from typing import Any

from sbs_tui.core.store.base import Queries


class Difficulties(Queries):
    """``store.difficulty``."""

    __slots__ = ()

    def latest(self, baseline: str) -> tuple[dict[str, Any], list[tuple[str, float, float | None]]] | None:
        """The difficulty in force for ``baseline``: (its record — fitted_at, models, verdicts, method — and the
        (prompt_id, difficulty, standard error) rows in their stored order), or None when none was stored."""
        row = self.conn.execute(
            "SELECT id, fitted_at, models, verdicts, method FROM difficulty_fits WHERE baseline = ? "
            "ORDER BY id DESC LIMIT 1", (baseline,)).fetchone()
        if row is None:
            return None
        values = self.conn.execute(
            "SELECT prompt_id, difficulty, difficulty_se FROM prompt_difficulty WHERE fit_id = ? ORDER BY position",
            (row[0],)).fetchall()
        return ({"fitted_at": row[1], "models": json.loads(row[2]), "verdicts": row[3], "method": row[4]},
                [(p, float(d), None if e is None else float(e)) for p, d, e in values])

    def save(self, baseline: str, values: list[tuple[str, float, float | None]], *, models: list[str],
             verdicts: int, method: str) -> str:
        """Store a difficulty for ``baseline`` (replacing any earlier one) in one transaction; returns its date."""
        with self._cx.transaction():
            old = [r[0] for r in self.conn.execute("SELECT id FROM difficulty_fits WHERE baseline = ?", (baseline,))]
            for fit_id in old:
                self.conn.execute("DELETE FROM prompt_difficulty WHERE fit_id = ?", (fit_id,))
                self.conn.execute("DELETE FROM difficulty_fits WHERE id = ?", (fit_id,))
            cur = self.conn.execute(
                "INSERT INTO difficulty_fits (baseline, models, verdicts, method) VALUES (?, ?, ?, ?)",
                (baseline, json.dumps(models), verdicts, method))
            fit_id = cur.lastrowid
            self.conn.executemany(
                "INSERT INTO prompt_difficulty (fit_id, position, prompt_id, difficulty, difficulty_se) "
                "VALUES (?, ?, ?, ?, ?)", [(fit_id, k, p, d, e) for k, (p, d, e) in enumerate(values)])
            return str(self.conn.execute("SELECT fitted_at FROM difficulty_fits WHERE id = ?",
                                         (fit_id,)).fetchone()[0])
