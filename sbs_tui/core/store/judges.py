"""Judge queries (``store.judges``): the pairs to judge, the per-order verdict cache, judge configurations.

Why a cache of single orders, not of votes: each pair is asked twice (both orders), and a run killed between
the two must not pay for the first again. A vote is written once both orders are in; its uid is derived from
(annotator, config, pair), so writing it again is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sbs_tui.core.store.base import Queries
from sbs_tui.core.store.imports import committed


@dataclass(frozen=True, slots=True)
class JudgePair:
    """Two generations of one prompt; ``model_a`` is the baseline in ``--pairs baseline``."""

    gen_a: int
    gen_b: int
    prompt_id: str
    prompt: str
    model_a: str
    model_b: str
    output_a: str
    output_b: str


@dataclass(frozen=True, slots=True)
class OrderVerdict:
    """The judge's answer in one order (first = the answer shown first)."""

    verdict: str | None  # 'first' | 'second' | 'tie' | None (unparseable)
    p_first: float | None
    tokens_in: int = 0
    tokens_out: int = 0


_PAIR_COLUMNS = ("SELECT ga.id, gb.id, ga.prompt_id, pr.text, ma.name, mb.name, ga.output, gb.output "
                 "FROM generations ga JOIN generations gb ON gb.prompt_id = ga.prompt_id "
                 "JOIN prompts pr ON pr.id = ga.prompt_id "
                 "JOIN models ma ON ma.id = ga.model_id JOIN models mb ON mb.id = gb.model_id ")


class Judges(Queries):
    """``store.judges``."""

    __slots__ = ()

    def queue_pairs(self) -> Iterator[JudgePair]:
        """The annotation queue's pairs, minus those with a blocked generation (no one should judge those)."""
        cur = self.conn.execute(
            "SELECT ga.id, gb.id, p.prompt_id, pr.text, ma.name, mb.name, ga.output, gb.output FROM pairs p "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id "
            "JOIN prompts pr ON pr.id = p.prompt_id "
            "JOIN models ma ON ma.id = ga.model_id JOIN models mb ON mb.id = gb.model_id "
            "WHERE ga.gate_status != 'blocked' AND gb.gate_status != 'blocked' ORDER BY p.id"
        )
        for row in cur:
            yield JudgePair(*row)

    def baseline_pairs(self, baseline: str) -> Iterator[JudgePair]:
        """Every other model's generation against the baseline's on the same prompt (AlpacaEval's design:
        ``model_a`` is the baseline), minus blocked generations."""
        cur = self.conn.execute(
            _PAIR_COLUMNS + f"WHERE ma.name = ? AND gb.model_id != ga.model_id AND {committed('ga')} "
            f"AND {committed('gb')} "
            "AND ga.gate_status != 'blocked' AND gb.gate_status != 'blocked' ORDER BY ga.prompt_id, mb.name",
            (baseline,),
        )
        for row in cur:
            yield JudgePair(*row)

    def record_config(self, config_hash: str, annotator: str, config: dict[str, Any]) -> None:
        """Remember what a configuration hash stands for (the first annotator name it was run under)."""
        self.conn.execute("INSERT INTO judge_configs (config_hash, annotator, config) VALUES (?, ?, ?) "
                          "ON CONFLICT(config_hash) DO NOTHING",
                          (config_hash, annotator, json.dumps(config, sort_keys=True, ensure_ascii=False)))

    def annotator_kind(self, name: str) -> str | None:
        row = self.conn.execute("SELECT kind FROM annotators WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def cached_verdicts(self, config_hash: str, pairs: Sequence[JudgePair]
                        ) -> dict[tuple[int, int, bool], OrderVerdict]:
        """(gen_a, gen_b, a_first) → verdict, for the given pairs under this judge configuration."""
        found: dict[tuple[int, int, bool], OrderVerdict] = {}
        ids = sorted({p.gen_a for p in pairs})
        wanted = {(p.gen_a, p.gen_b) for p in pairs}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            cur = self.conn.execute(
                "SELECT gen_a_id, gen_b_id, a_first, verdict, p_first, tokens_in, tokens_out FROM judge_verdicts "
                f"WHERE config_hash = ? AND gen_a_id IN ({','.join('?' * len(chunk))})",
                [config_hash, *chunk],
            )
            for a, b, a_first, verdict, p_first, t_in, t_out in cur:
                if (a, b) in wanted:
                    found[(a, b, bool(a_first))] = OrderVerdict(verdict, p_first, t_in, t_out)
        return found

    def forget_transport_failures(self, config_hash: str, reply_prefix: str) -> int:
        """Delete cached orders that hold no verdict because the reply had no message (cached so by older
        versions): they were transport failures, and a run must ask them again."""
        cur = self.conn.execute(
            "DELETE FROM judge_verdicts WHERE config_hash = ? AND verdict IS NULL AND p_first IS NULL "
            "AND substr(reply, 1, ?) = ?", (config_hash, len(reply_prefix), reply_prefix))
        return cur.rowcount

    def save_verdicts(self, config_hash: str,
                      rows: Iterable[tuple[int, int, bool, OrderVerdict, str | None]]) -> None:
        """Store (gen_a, gen_b, a_first, verdict, reply) rows; call in a transaction. A verdict already stored
        stays (the first answer is the one the vote was built from)."""
        self.conn.executemany(
            "INSERT INTO judge_verdicts (config_hash, gen_a_id, gen_b_id, a_first, verdict, p_first, reply, "
            "tokens_in, tokens_out) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(config_hash, gen_a_id, gen_b_id, a_first) DO NOTHING",
            [(config_hash, a, b, int(a_first), v.verdict, v.p_first, reply, v.tokens_in, v.tokens_out)
             for a, b, a_first, v, reply in rows],
        )
