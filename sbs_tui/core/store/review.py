"""Read-only summaries for the lead's review app (``sbs review``) and the flag list.

Called from the review app's worker threads, each on its own connection. Rows are dicts keyed by column name:
the review screens look values up by name and show them as table cells.
"""

from __future__ import annotations

import json
from typing import Any

from sbs_tui.core.store.base import Queries
from sbs_tui.core.store.imports import committed


class Review(Queries):
    """``store.review``."""

    __slots__ = ()

    def annotators(self) -> list[dict[str, Any]]:
        """Per annotator: kind, every vote stored (imported or judged), queue done/skipped/open assignments,
        flags, cap and the time of their last queue vote — one row each, in name order."""
        rows = self.conn.execute(
            "SELECT an.id, an.name, an.kind, "
            f"(SELECT count(*) FROM votes v WHERE v.annotator_id = an.id AND {committed('v')}), "
            "coalesce(sum(s.status = 'done'), 0), coalesce(sum(s.status = 'skipped'), 0), "
            "coalesce(sum(s.status = 'assigned'), 0), coalesce(sum(s.flagged), 0), "
            "(SELECT max_votes FROM annotator_caps c WHERE c.annotator_id = an.id), "
            "max(CASE WHEN s.status = 'done' THEN s.updated_at END) "
            "FROM annotators an LEFT JOIN assignments s ON s.annotator_id = an.id "
            "GROUP BY an.id ORDER BY an.name").fetchall()
        keys = ("id", "annotator", "kind", "votes", "done", "skipped", "open", "flagged", "cap", "last_vote")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def recent_vote_times(self, annotator_id: int, limit: int = 50) -> list[str]:
        """Timestamps of this annotator's latest queue votes, newest first (their pace)."""
        return [r[0] for r in self.conn.execute(
            "SELECT updated_at FROM assignments WHERE annotator_id = ? AND status = 'done' "
            "AND updated_at IS NOT NULL ORDER BY updated_at DESC LIMIT ?", (annotator_id, limit))]

    def held_back(self, limit: int = 500) -> list[dict[str, Any]]:
        """Pairs held back from blind judging (identity leaks), with their prompt and models, first ``limit``."""
        rows = self.conn.execute(
            "SELECT p.id, p.held_back, pr.text, ma.name, mb.name FROM pairs p "
            "JOIN prompts pr ON pr.id = p.prompt_id "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id "
            "JOIN models ma ON ma.id = ga.model_id JOIN models mb ON mb.id = gb.model_id "
            "WHERE p.held_back IS NOT NULL ORDER BY p.id LIMIT ?", (limit,)).fetchall()
        keys = ("pair_id", "reason", "prompt", "model_a", "model_b")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def recent_votes(self, limit: int = 500) -> list[dict[str, Any]]:
        """The latest votes, newest first, without their texts (the vote browser's list)."""
        rows = self.conn.execute(
            "SELECT v.id, v.ts, an.name, an.kind, ma.name, mb.name, v.winner, v.weight, v.shown_left, v.flagged, "
            "v.rationale, substr(p.text, 1, 200) FROM votes v JOIN prompts p ON p.id = v.prompt_id "
            "JOIN models ma ON ma.id = v.model_a_id JOIN models mb ON mb.id = v.model_b_id "
            f"JOIN annotators an ON an.id = v.annotator_id WHERE {committed('v')} ORDER BY v.id DESC LIMIT ?",
            (limit,)).fetchall()
        keys = ("id", "ts", "annotator", "kind", "model_a", "model_b", "winner", "weight", "shown_left", "flagged",
                "rationale", "prompt")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def vote_detail(self, vote_id: int) -> dict[str, Any] | None:
        """One vote with its prompt and both answers: the vote's stored outputs, else the stored generations."""
        row = self.conn.execute(
            "SELECT v.id, v.ts, an.name, ma.name, mb.name, v.winner, v.weight, v.shown_left, v.flagged, "
            "v.flag_reason, v.rationale, v.criteria, p.text, "
            "coalesce(v.output_a, (SELECT g.output FROM generations g WHERE g.prompt_id = v.prompt_id "
            f"AND g.model_id = v.model_a_id AND {committed('g')})), "
            "coalesce(v.output_b, (SELECT g.output FROM generations g WHERE g.prompt_id = v.prompt_id "
            f"AND g.model_id = v.model_b_id AND {committed('g')})) "
            "FROM votes v JOIN prompts p ON p.id = v.prompt_id JOIN models ma ON ma.id = v.model_a_id "
            f"JOIN models mb ON mb.id = v.model_b_id JOIN annotators an ON an.id = v.annotator_id WHERE v.id = ? "
            f"AND {committed('v')}",
            (vote_id,)).fetchone()
        if row is None:
            return None
        keys = ("id", "ts", "annotator", "model_a", "model_b", "winner", "weight", "shown_left", "flagged",
                "flag_reason", "rationale", "criteria", "prompt", "output_a", "output_b")
        detail = dict(zip(keys, row, strict=True))
        detail["criteria"] = json.loads(detail["criteria"]) if detail["criteria"] else None
        return detail

    def flagged_pairs(self) -> list[dict[str, Any]]:
        """Pairs annotators flagged (with their reason and whether they still voted), for the lead to review."""
        rows = self.conn.execute(
            "SELECT s.pair_id, an.name, s.flag_reason, s.status, p.prompt_id, pr.text, ma.name, mb.name, "
            "s.updated_at FROM assignments s JOIN annotators an ON an.id = s.annotator_id "
            "JOIN pairs p ON p.id = s.pair_id JOIN prompts pr ON pr.id = p.prompt_id "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id "
            "JOIN models ma ON ma.id = ga.model_id JOIN models mb ON mb.id = gb.model_id "
            "WHERE s.flagged = 1 ORDER BY s.id").fetchall()
        keys = ("pair_id", "annotator", "reason", "status", "prompt_id", "prompt", "model_a", "model_b", "ts")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def votes_per_day(self, limit_days: int = 60) -> dict[str, list[tuple[str, int]]]:
        """Per annotator: (day, votes that day) over the ``limit_days`` days up to the latest vote, from the
        votes' own time stamps (votes without one are not placed in time)."""
        rows = self.conn.execute(
            "WITH last AS (SELECT max(substr(ts, 1, 10)) AS day FROM votes v WHERE ts IS NOT NULL "
            f"AND {committed('v')}) "
            "SELECT an.name, substr(v.ts, 1, 10) AS vote_day, count(*) FROM votes v "
            "JOIN annotators an ON an.id = v.annotator_id, last "
            f"WHERE v.ts IS NOT NULL AND {committed('v')} AND substr(v.ts, 1, 10) >= date(last.day, ?) "
            # not `AS day`: GROUP BY would take `last.day`, and every annotator's votes fell into one day
            "GROUP BY an.name, vote_day ORDER BY an.name, vote_day", (f"-{int(limit_days)} days",)).fetchall()
        activity: dict[str, list[tuple[str, int]]] = {}
        for annotator, day, n in rows:
            activity.setdefault(annotator, []).append((day, n))
        return activity
