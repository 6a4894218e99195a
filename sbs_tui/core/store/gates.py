"""Gate results: the per-(generation, gate, configuration) score cache, settling gate status, and pass rates."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sbs_tui.core.records import json_or_none
from sbs_tui.core.store.base import Queries


@dataclass(frozen=True, slots=True)
class CachedResult:
    """A stored scorer result still valid for the generation's current output."""

    score: float | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class GateCount:
    """Generations of one model scored by one gate configuration, and how many of them it blocked."""

    scored: int
    blocked: int


@dataclass(frozen=True, slots=True)
class PassRate:
    """Generations of one model that passed one gate, out of those it scored."""

    passed: int
    total: int


class Gates(Queries):
    """``store.gates``."""

    __slots__ = ()

    def cached_results(self, generation_ids: Sequence[int], gate: str, config_hash: str) -> dict[int, CachedResult]:
        """Stored results for these generations under this gate configuration, if their output is unchanged."""
        found: dict[int, CachedResult] = {}
        ids = list(generation_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = self.conn.execute(
                "SELECT r.generation_id, r.score, r.details FROM gate_results r "
                "JOIN generations g ON g.id = r.generation_id AND g.output_sha = r.output_sha "
                f"WHERE r.gate = ? AND r.config_hash = ? AND r.generation_id IN ({','.join('?' * len(chunk))})",
                [gate, config_hash, *chunk]).fetchall()
            for gid, score, details in rows:
                found[gid] = CachedResult(score, json.loads(details) if details else {})
        return found

    def save_results(self, rows: Iterable[tuple[int, str, str, str, float | None, bool, dict[str, Any]]]) -> None:
        """Upsert (generation_id, gate, config_hash, output_sha, score, blocked, details); call in a transaction.

        A result replaces that generation's results for the same gate under other configurations, so the table
        holds one current row per (generation, gate) and per-gate summaries (the funnel) never count twice.
        """
        rows = list(rows)
        self.conn.executemany(
            "DELETE FROM gate_results WHERE generation_id = ? AND gate = ? AND config_hash != ?",
            [(gid, gate, h) for gid, gate, h, *_ in rows])
        self.conn.executemany(
            "INSERT INTO gate_results (generation_id, gate, config_hash, output_sha, score, blocked, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(generation_id, gate, config_hash) DO UPDATE SET "
            "output_sha = excluded.output_sha, score = excluded.score, blocked = excluded.blocked, "
            "details = excluded.details, scored_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            [(gid, gate, h, sha, score, int(blocked), json_or_none(details))
             for gid, gate, h, sha, score, blocked, details in rows])

    def settle_status(self, decisions: Sequence[tuple[int, str, str]]) -> int:
        """Apply (generation_id, output_sha, 'passed'|'blocked') to generations still pending with that output.

        A generation whose output was replaced while it was being scored stays pending (it is scored again).
        Returns how many rows changed; call inside a transaction.
        """
        before = self.conn.total_changes
        self.conn.executemany(
            "UPDATE generations SET gate_status = ? WHERE id = ? AND output_sha = ? AND gate_status = 'pending'",
            [(status, gid, sha) for gid, sha, status in decisions])
        return self.conn.total_changes - before

    def result_counts(self, gate: str, config_hash: str) -> dict[str, GateCount]:
        """model → (generations scored, generations blocked) by one gate configuration (current outputs only)."""
        return {model: GateCount(n, int(blocked or 0)) for model, n, blocked in self.conn.execute(
            "SELECT m.name, count(*), sum(r.blocked) FROM gate_results r "
            "JOIN generations g ON g.id = r.generation_id AND g.output_sha = r.output_sha "
            "JOIN models m ON m.id = g.model_id WHERE r.gate = ? AND r.config_hash = ? GROUP BY m.name",
            (gate, config_hash))}


    def status_counts(self) -> dict[str, dict[str, int]]:
        """Per model: how many generations are 'pending', 'passed' and 'blocked' by the gates."""
        counts: dict[str, dict[str, int]] = {}
        for model, status, n in self.conn.execute(
            "SELECT m.name, g.gate_status, count(*) FROM generations g JOIN models m ON m.id = g.model_id "
            "GROUP BY m.name, g.gate_status"
        ):
            counts.setdefault(model, {"pending": 0, "passed": 0, "blocked": 0})[status] = n
        return counts

    def pass_rates(self) -> dict[str, dict[str, PassRate]]:
        """Per model and gate: (passed, total) from a ``gate_results`` table, if the gating feature created one.

        Probed defensively: the table is optional and owned by the gating feature, so only a shape with
        ``generation_id``, a gate name column and a pass/block column is read; anything else gives ``{}``.
        """
        columns = set(self._cx.table_columns("gate_results"))
        if "generation_id" not in columns:
            return {}
        gate_col = next((c for c in ("gate", "gate_name", "scorer", "name") if c in columns), None)
        if gate_col is None:
            return {}
        if "passed" in columns:
            passed_expr = "sum(CASE WHEN r.passed THEN 1 ELSE 0 END)"
        elif "blocked" in columns:
            passed_expr = "sum(CASE WHEN r.blocked THEN 0 ELSE 1 END)"
        elif "status" in columns:
            passed_expr = "sum(CASE WHEN r.status IN ('passed', 'pass', 'ok') THEN 1 ELSE 0 END)"
        else:
            return {}
        try:
            rows = self.conn.execute(
                f"SELECT m.name, r.[{gate_col}], {passed_expr}, count(*) FROM gate_results r "
                "JOIN generations g ON g.id = r.generation_id JOIN models m ON m.id = g.model_id "
                f"GROUP BY m.name, r.[{gate_col}]"
            ).fetchall()
        except sqlite3.Error:
            return {}
        result: dict[str, dict[str, PassRate]] = {}
        for model, gate, passed, total in rows:
            result.setdefault(model, {})[str(gate)] = PassRate(int(passed or 0), int(total))
        return result
