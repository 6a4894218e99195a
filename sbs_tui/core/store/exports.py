"""What leaves the database as files: votes in the contract vote format and DPO-style preference pairs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sbs_tui.core.store.base import Queries
from sbs_tui.core.store.imports import committed


class Exports(Queries):
    """``store.exports``."""

    __slots__ = ()

    def votes(self) -> Iterator[dict[str, Any]]:
        """Every vote in insertion order, in the contract vote format (what ``sbs export votes`` writes)."""
        cur = self.conn.execute(
            "SELECT v.uid, v.prompt_id, p.text, ma.name, mb.name, v.winner, v.weight, an.name, an.kind, "
            "v.shown_left, v.ts, v.rationale, v.criteria, v.flagged, v.flag_reason, v.output_a, v.output_b, "
            "v.meta FROM votes v JOIN prompts p ON p.id = v.prompt_id "
            "JOIN models ma ON ma.id = v.model_a_id JOIN models mb ON mb.id = v.model_b_id "
            f"JOIN annotators an ON an.id = v.annotator_id WHERE {committed('v')} ORDER BY v.id"
        )
        for (uid, prompt_id, prompt, model_a, model_b, winner, weight, annotator, kind, shown_left, ts,
             rationale, criteria, flagged, flag_reason, output_a, output_b, meta) in cur:
            record: dict[str, Any] = {
                "vote_id": uid,
                "prompt_id": prompt_id,
                "prompt": prompt,
                "model_a": model_a,
                "model_b": model_b,
                "winner": winner,
                "annotator": annotator,
            }
            if weight != 1.0:
                record["weight"] = weight
            if kind != "human":
                record["annotator_kind"] = kind
            if shown_left is not None:
                record["left"] = model_a if shown_left == "model_a" else model_b
            optional = {"ts": ts, "rationale": rationale, "output_a": output_a, "output_b": output_b,
                        "flag_reason": flag_reason}
            record.update({k: val for k, val in optional.items() if val is not None})
            if criteria:
                record["criteria"] = json.loads(criteria)
            if flagged:
                record["flagged"] = True
            if meta:
                record["meta"] = json.loads(meta)
            yield record

    def preference_pairs(self, *, min_weight: float = 0.75,
                              skipped: dict[str, int] | None = None) -> Iterator[dict[str, Any]]:
        """Votes with a clear winner as (prompt, chosen, rejected) pairs, for DPO-style training data.

        Left out (and counted in ``skipped``): ties and both-bad, flagged votes, votes whose winner's share is
        below ``min_weight``, and votes with no output for either side (neither on the vote nor as a stored
        generation of that model for that prompt).
        """
        cur = self.conn.execute(
            "SELECT v.uid, v.prompt_id, p.text, ma.name, mb.name, v.winner, v.weight, v.flagged, an.name, "
            "coalesce(v.output_a, ga.output), coalesce(v.output_b, gb.output) FROM votes v "
            "JOIN prompts p ON p.id = v.prompt_id JOIN models ma ON ma.id = v.model_a_id "
            "JOIN models mb ON mb.id = v.model_b_id JOIN annotators an ON an.id = v.annotator_id "
            "LEFT JOIN generations ga ON ga.prompt_id = v.prompt_id AND ga.model_id = v.model_a_id "
            f"AND {committed('ga')} "
            "LEFT JOIN generations gb ON gb.prompt_id = v.prompt_id AND gb.model_id = v.model_b_id "
            f"AND {committed('gb')} WHERE {committed('v')} ORDER BY v.id"
        )
        skipped = skipped if skipped is not None else {}

        def skip(reason: str) -> None:
            skipped[reason] = skipped.get(reason, 0) + 1

        for (uid, prompt_id, prompt, model_a, model_b, winner, weight, flagged, annotator, output_a,
             output_b) in cur:
            if winner not in ("model_a", "model_b"):
                skip("no clear winner (tie or both bad)")
            elif flagged:
                skip("flagged")
            elif weight < min_weight:
                skip(f"weight below {min_weight:g}")
            elif output_a is None or output_b is None:
                skip("no output stored for one side")
            else:
                a_wins = winner == "model_a"
                yield {
                    "prompt": prompt,
                    "chosen": output_a if a_wins else output_b,
                    "rejected": output_b if a_wins else output_a,
                    "prompt_id": prompt_id,
                    "chosen_model": model_a if a_wins else model_b,
                    "rejected_model": model_b if a_wins else model_a,
                    "weight": weight,
                    "annotator": annotator,
                    "vote_id": uid,
                }
