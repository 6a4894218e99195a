"""Gate results: the per-(generation, gate, configuration) score cache, settling gate status, and pass rates."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sbs_tui.core.records import json_or_none
from sbs_tui.core.store.base import Queries
from sbs_tui.core.store.imports import committed


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


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """A generation a lead may want to look at: blocked, held for review, or overridden."""

    generation_id: int
    model: str
    prompt: str
    status: str  # 'blocked', 'held' (uncovered language, for review) or 'passed'
    language: str | None
    failing: list[str]  # gates whose current result failed
    override: str | None = None  # the lead's decision, if any
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None
    hold: str | None = None  # why it is held: 'uncovered' (language) or 'unchecked' (safety categories)

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(frozen=True, slots=True)
class ReviewDetail:
    generation_id: int
    model: str
    prompt: str
    output: str
    status: str
    language: str | None
    results: dict[str, dict[str, Any]]  # gate → {score, failed, details}
    override: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None
    unchecked: str | None = None  # safety categories no blocking gate checked, comma-separated ('' none)

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


_STATUS_SQL = ("CASE WHEN g.gate_status = 'blocked' AND g.gate_hold IS NOT NULL THEN 'held' "
               "ELSE g.gate_status END")
_OVERRIDE_JOIN = "LEFT JOIN gate_overrides o ON o.generation_id = g.id AND o.output_sha = g.output_sha"


class GateReviewQueries(Queries):
    """The half of ``store.gates`` that serves leads: holds, languages and overrides (migration 0008)."""

    __slots__ = ()

    def settle_decisions(self, decisions: Sequence[tuple[int, str, str, str | None, str | None, Sequence[str]]]
                         ) -> int:
        """Apply (generation_id, output_sha, 'passed'|'blocked'|'held', language, hold, unchecked) to generations
        still pending with that output. 'held' is stored as blocked with ``gate_hold`` = why ('uncovered' or
        'unchecked'; never served); ``unchecked`` (safety categories nobody checked) as comma-separated names. A
        lead's override for the same output wins over the gates. Returns how many rows changed; call in a
        transaction.

        The batch's overrides are read once (one indexed query, inside the caller's write transaction, so none can
        appear before the update) instead of twice per row in correlated subqueries: ~11 µs a generation."""
        ids = [d[0] for d in decisions]
        overrides: dict[int, tuple[str, str]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            overrides.update((gid, (sha, decision)) for gid, sha, decision in self.conn.execute(
                "SELECT generation_id, output_sha, decision FROM gate_overrides "
                f"WHERE generation_id IN ({','.join('?' * len(chunk))})", chunk))
        rows = []
        for gid, sha, status, lang, hold, unchecked in decisions:
            override = overrides.get(gid)
            if override is not None and override[0] == sha:
                settled, kept = override[1], None
            elif status == "held":
                settled, kept = "blocked", hold or "uncovered"
            else:
                settled, kept = status, None
            rows.append((settled, kept, lang, ",".join(unchecked), gid, sha))
        before = self.conn.total_changes
        self.conn.executemany(
            "UPDATE generations SET gate_status = ?, gate_hold = ?, language = ?, unchecked = ? "
            "WHERE id = ? AND output_sha = ? AND gate_status = 'pending'", rows)
        return self.conn.total_changes - before

    def save_coverage(self, rows: Sequence[tuple[int, str, str | None, Sequence[str]]]) -> None:
        """Store (generation_id, output_sha, language, unchecked) without deciding anything (``sbs score`` on the
        database: scores are cached, statuses left alone); call in a transaction."""
        self.conn.executemany(
            "UPDATE generations SET language = ?, unchecked = ? WHERE id = ? AND output_sha = ?",
            [(lang, ",".join(unchecked), gid, sha) for gid, sha, lang, unchecked in rows])

    def unchecked_counts(self) -> list[tuple[str | None, str, int]]:
        """(language, unchecked categories comma-separated, generations) over gated generations that left some
        safety category unchecked, most generations first."""
        return [(lang, cats, int(n)) for lang, cats, n in self.conn.execute(
            "SELECT g.language, g.unchecked, count(*) FROM generations g "
            f"WHERE g.unchecked IS NOT NULL AND g.unchecked != '' AND {committed('g')} "
            "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2")]

    def save_override(self, generation_id: int, decision: str, reason: str, who: str) -> bool:
        """Record a lead's decision for the generation's current output and apply it; False if no such id."""
        row = self.conn.execute("SELECT output_sha FROM generations WHERE id = ?", (generation_id,)).fetchone()
        if row is None:
            return False
        self.conn.execute(
            "INSERT INTO gate_overrides (generation_id, output_sha, decision, reason, decided_by) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(generation_id) DO UPDATE SET output_sha = excluded.output_sha, "
            "decision = excluded.decision, reason = excluded.reason, decided_by = excluded.decided_by, "
            "decided_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (generation_id, row[0], decision, reason, who))
        self.conn.execute("UPDATE generations SET gate_status = ?, gate_hold = NULL WHERE id = ?",
                          (decision, generation_id))
        return True

    def review_rows(self, limit: int) -> list[ReviewRow]:
        """Blocked, held and overridden generations, newest first."""
        rows = self.conn.execute(
            f"SELECT g.id, m.name, p.text, {_STATUS_SQL}, g.language, "
            "(SELECT group_concat(r.gate, ', ') FROM gate_results r WHERE r.generation_id = g.id "
            "  AND r.output_sha = g.output_sha AND r.blocked), "
            "o.decision, o.decided_by, o.decided_at, o.reason, g.gate_hold "
            "FROM generations g JOIN models m ON m.id = g.model_id JOIN prompts p ON p.id = g.prompt_id "
            f"{_OVERRIDE_JOIN} WHERE (g.gate_status = 'blocked' OR o.decision IS NOT NULL) AND {committed('g')} "
            "ORDER BY g.id DESC LIMIT ?", (limit,)).fetchall()
        return [ReviewRow(gid, model, prompt, status, lang, failing.split(", ") if failing else [], *rest)
                for gid, model, prompt, status, lang, failing, *rest in rows]

    def review_counts(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT sum(g.gate_status = 'blocked' AND g.gate_hold IS NULL), "
            "sum(g.gate_status = 'blocked' AND g.gate_hold IS NOT NULL), count(o.generation_id) "
            f"FROM generations g {_OVERRIDE_JOIN} WHERE {committed('g')}").fetchone()
        return {"blocked": int(row[0] or 0), "held": int(row[1] or 0), "overridden": int(row[2] or 0)}

    def review_per_model(self) -> list[dict[str, Any]]:
        """Per model and failing gate (why, for held ones: 'uncovered' or 'unchecked'): blocked, held and
        overridden generations."""
        rows = self.conn.execute(
            "SELECT m.name, COALESCE(r.gate, g.gate_hold, '-'), "
            "sum(g.gate_status = 'blocked' AND g.gate_hold IS NULL), "
            "sum(g.gate_status = 'blocked' AND g.gate_hold IS NOT NULL), count(o.generation_id) "
            "FROM generations g JOIN models m ON m.id = g.model_id "
            "LEFT JOIN gate_results r ON r.generation_id = g.id AND r.output_sha = g.output_sha AND r.blocked "
            f"{_OVERRIDE_JOIN} WHERE (g.gate_status = 'blocked' OR o.decision IS NOT NULL) AND {committed('g')} "
            "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        return [{"model": m, "gate": gate, "blocked": int(b or 0), "held": int(h or 0), "overridden": int(o or 0)}
                for m, gate, b, h, o in rows]

    def review_detail(self, generation_id: int) -> ReviewDetail | None:
        row = self.conn.execute(
            f"SELECT g.id, m.name, p.text, g.output, {_STATUS_SQL}, g.language, o.decision, o.decided_by, "
            "o.decided_at, o.reason, g.unchecked FROM generations g JOIN models m ON m.id = g.model_id "
            f"JOIN prompts p ON p.id = g.prompt_id {_OVERRIDE_JOIN} WHERE g.id = ?", (generation_id,)).fetchone()
        if row is None:
            return None
        results = {gate: {"score": score, "failed": bool(blocked), "details": json.loads(details) if details else {}}
                   for gate, score, blocked, details in self.conn.execute(
                       "SELECT r.gate, r.score, r.blocked, r.details FROM gate_results r "
                       "JOIN generations g ON g.id = r.generation_id AND g.output_sha = r.output_sha "
                       "WHERE r.generation_id = ? ORDER BY r.gate", (generation_id,))}
        gid, model, prompt, output, status, lang, *rest = row
        return ReviewDetail(gid, model, prompt, output, status, lang, results, *rest)


class Gates(GateReviewQueries):
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
        # One DELETE per (gate, configuration) and 500 generations, not one per row (a batch has one of each).
        stale: dict[tuple[str, str], list[int]] = {}
        for gid, gate, h, *_ in rows:
            stale.setdefault((gate, h), []).append(gid)
        for (gate, h), gids in stale.items():
            for i in range(0, len(gids), 500):
                chunk = gids[i:i + 500]
                self.conn.execute("DELETE FROM gate_results WHERE gate = ? AND config_hash != ? "
                                  f"AND generation_id IN ({','.join('?' * len(chunk))})", [gate, h, *chunk])
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
        """Per model: how many generations are 'pending', 'passed' and 'blocked' by the gates (final decisions,
        a lead's overrides included), 'held' for review (a language no blocking gate reads; not in 'blocked'),
        and how many of them a lead 'overridden'."""
        counts: dict[str, dict[str, int]] = {}
        for model, status, n, overridden in self.conn.execute(
            f"SELECT m.name, {_STATUS_SQL}, count(*), count(o.generation_id) FROM generations g "
            f"JOIN models m ON m.id = g.model_id {_OVERRIDE_JOIN} WHERE {committed('g')} GROUP BY 1, 2"
        ):
            entry = counts.setdefault(model, {"pending": 0, "passed": 0, "blocked": 0, "held": 0,
                                              "overridden": 0})
            entry[status] = n
            entry["overridden"] += overridden
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
