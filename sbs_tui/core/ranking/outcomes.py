"""Aggregated outcome counts: the sufficient statistics of every count-based ranking method.

Why counts and not votes: the Bradley-Terry likelihood depends on the votes only through, per unordered model
pair, the number of votes and the credit each side received. 1M votes among 100 models collapse to at most
~15k cells (pair × distinct score), so fitting and bootstrapping never touch the raw votes.

A *cell* is (i, j, s, n): ``n`` votes between models ``i < j`` in which ``j`` received credit ``s`` ∈ [0, 1]
(1 = j won, 0 = i won, 0.5 = tie or both-bad, anything between = a weighted AlpacaEval-style verdict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairStats:
    """Per unordered pair (i < j): ``n`` votes, ``w`` credit to j. Arrays of equal length."""

    i: np.ndarray
    j: np.ndarray
    n: np.ndarray
    w: np.ndarray


@dataclass(frozen=True)
class Outcomes:
    """Distinct outcome cells of a set of votes among ``names`` (see module docstring)."""

    names: list[str]
    i: np.ndarray  # int64, i < j
    j: np.ndarray
    s: np.ndarray  # float64 credit to j
    n: np.ndarray  # float64 counts (float so fractional/resampled counts share the code path)

    @classmethod
    def from_rows(cls, names: Sequence[str], rows: Sequence[tuple[int, int, float, float]]) -> Outcomes:
        """Build from ``(index_a, index_b, score_b, count)`` rows, e.g. :meth:`Store.votes.outcomes`.

        Orientation is normalised (a vote (a, b, s) is the vote (b, a, 1 − s)) and equal cells merged.
        """
        names = list(names)
        if not rows:
            empty = np.zeros(0)
            return cls(names, empty.astype(np.int64), empty.astype(np.int64), empty, empty)
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
        a = arr[:, 0].astype(np.int64)
        b = arr[:, 1].astype(np.int64)
        s = arr[:, 2]
        n = arr[:, 3]
        if np.any(a == b):
            raise ValueError("a model cannot be compared with itself")
        if np.any((s < 0) | (s > 1)):
            raise ValueError("score_b must lie in [0, 1]")
        swap = a > b
        i = np.where(swap, b, a)
        j = np.where(swap, a, b)
        s = np.where(swap, 1.0 - s, s)
        # Merge equal cells; round the score so 1-(1-x) and x land in one cell.
        s_key = np.round(s, 12)
        order = np.lexsort((s_key, j, i))
        i, j, s_key, n = i[order], j[order], s_key[order], n[order]
        new = np.ones(len(i), dtype=bool)
        new[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1]) | (s_key[1:] != s_key[:-1])
        starts = np.flatnonzero(new)
        merged_n = np.add.reduceat(n, starts)
        return cls(names, i[starts], j[starts], s_key[starts], merged_n.astype(np.float64))

    @property
    def n_models(self) -> int:
        return len(self.names)

    @property
    def total_votes(self) -> float:
        return float(self.n.sum())

    def pair_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unique pairs (i, j) and, for each cell, the index of its pair."""
        key = self.i * max(self.n_models, 1) + self.j
        uniq, inverse = np.unique(key, return_inverse=True)
        m = max(self.n_models, 1)
        return uniq // m, uniq % m, inverse

    def pair_stats(self, counts: np.ndarray | None = None) -> PairStats:
        """Per-pair totals; ``counts`` overrides the cell counts (a bootstrap resample)."""
        pi, pj, inverse = self.pair_index()
        n = self.n if counts is None else counts
        n_pair = np.bincount(inverse, weights=n, minlength=len(pi))
        w_pair = np.bincount(inverse, weights=n * self.s, minlength=len(pi))
        return PairStats(pi, pj, n_pair, w_pair)

    def tallies(self) -> dict[str, np.ndarray]:
        """Per model: votes, wins, losses, ties (credit > / < / = ½) and credit (sum of win shares)."""
        m = self.n_models
        votes = np.bincount(self.i, self.n, m) + np.bincount(self.j, self.n, m)
        j_won = self.s > 0.5
        i_won = self.s < 0.5
        tied = ~(j_won | i_won)
        wins = np.bincount(self.j, self.n * j_won, m) + np.bincount(self.i, self.n * i_won, m)
        losses = np.bincount(self.j, self.n * i_won, m) + np.bincount(self.i, self.n * j_won, m)
        ties = np.bincount(self.j, self.n * tied, m) + np.bincount(self.i, self.n * tied, m)
        credit = np.bincount(self.j, self.n * self.s, m) + np.bincount(self.i, self.n * (1 - self.s), m)
        return {"votes": votes, "wins": wins, "losses": losses, "ties": ties, "credit": credit}

    def components(self) -> list[list[int]]:
        """Connected components of the comparison graph, largest first (ties broken by first model).
        Models without any vote belong to no component.

        Min-label propagation with pointer jumping: numpy only, a few milliseconds for thousands of edges."""
        m = self.n_models
        if m == 0:
            return []
        ps = self.pair_stats()
        has = ps.n > 0
        pi, pj = ps.i[has], ps.j[has]
        labels = np.arange(m)
        while True:
            low = np.minimum(labels[pi], labels[pj])
            new = labels.copy()
            np.minimum.at(new, pi, low)
            np.minimum.at(new, pj, low)
            new = new[new]
            if np.array_equal(new, labels):
                break
            labels = new
        voted = np.zeros(m, dtype=bool)
        voted[pi] = voted[pj] = True
        groups: dict[int, list[int]] = {}
        for idx, lab in enumerate(labels.tolist()):
            if voted[idx]:
                groups.setdefault(lab, []).append(idx)
        return sorted(groups.values(), key=lambda g: (-len(g), g[0]))

    def subset(self, models: Sequence[int]) -> Outcomes:
        """The cells among ``models`` only, re-indexed in the given order."""
        remap = np.full(self.n_models, -1, dtype=np.int64)
        remap[np.asarray(models, dtype=np.int64)] = np.arange(len(models))
        keep = (remap[self.i] >= 0) & (remap[self.j] >= 0)
        i, j = remap[self.i[keep]], remap[self.j[keep]]
        s = self.s[keep]
        swap = i > j
        return Outcomes(
            [self.names[k] for k in models],
            np.where(swap, j, i), np.where(swap, i, j), np.where(swap, 1 - s, s), self.n[keep],
        )
