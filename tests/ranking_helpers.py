"""Shared builders for the ranking and agreement tests: simulated tournaments and stores filled with votes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sbs_tui.core.records import VoteRecord, prompt_id_for
from sbs_tui.core.store import Store


def simulate(strength: np.ndarray, n_votes: int, rng: np.random.Generator, tie_rate: float = 0.1
             ) -> list[tuple[int, int, float, int]]:
    """Votes from a BT model with known strengths (logits); ties at ``tie_rate``. Aggregated rows."""
    m = len(strength)
    a = rng.integers(0, m, n_votes)
    b = (a + rng.integers(1, m, n_votes)) % m
    p_b = 1.0 / (1.0 + np.exp(-(strength[b] - strength[a])))
    tie = rng.random(n_votes) < tie_rate
    s = np.where(tie, 0.5, (rng.random(n_votes) < p_b).astype(float))
    rows: dict[tuple[int, int, float], int] = {}
    for x, y, z in zip(a.tolist(), b.tolist(), s.tolist()):
        rows[(x, y, z)] = rows.get((x, y, z), 0) + 1
    return [(x, y, z, n) for (x, y, z), n in rows.items()]


def vote(model_a: str, model_b: str, winner: str, *, prompt: str = "p", annotator: str = "ann",
         weight: float = 1.0, **kw) -> VoteRecord:
    return VoteRecord(prompt_id_for(prompt), prompt, model_a, model_b, winner, annotator, weight=weight, **kw)


def store_with(path: Path, votes: list[VoteRecord]) -> Path:
    with Store(path) as store, store.transaction():
        store.votes.insert(votes)
    return path
