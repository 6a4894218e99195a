"""Results of the offline (benchmark) and online (A/B) stages.

Keys are natural: (model, benchmark, metric), (experiment, variant, unit, metric), (experiment, variant, metric).
Re-importing the same value is a no-op; a different value for a stored key is a :class:`ConflictError` unless
``replace`` — a silently changed score would change the funnel without anyone noticing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sbs_tui.core.records import json_or_none
from sbs_tui.core.store.base import InsertCounts, Queries, format_values
from sbs_tui.core.store.errors import ConflictError


@dataclass(frozen=True, slots=True)
class SharedUnits:
    """How many units of an experiment's metric were seen in more than one variant."""

    experiment: str
    metric: str
    units: int


class Results(Queries):
    """``store.results``."""

    __slots__ = ()

    def insert_benchmarks(self, batch: Sequence[Any], *, source: str | None = None,
                          replace: bool = False) -> InsertCounts:
        """Store benchmark records (``model, benchmark, metric, score, stderr, higher_is_better, meta``)."""
        params = [
            (self._cx.model_id(b.model), b.benchmark, b.metric, b.score, b.stderr,
             None if b.higher_is_better is None else int(b.higher_is_better), json_or_none(b.meta), source)
            for b in batch
        ]
        sql = ("INSERT INTO benchmarks (model_id, benchmark, metric, score, stderr, higher_is_better, meta, "
               "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        select = "SELECT score FROM benchmarks WHERE model_id = ? AND benchmark = ? AND metric = ?"
        return self._insert_results(
            batch, params, sql, "ON CONFLICT(model_id, benchmark, metric) DO UPDATE SET score = excluded.score, "
            "stderr = excluded.stderr, higher_is_better = excluded.higher_is_better, meta = excluded.meta, "
            "source = excluded.source WHERE benchmarks.score != excluded.score "
            "OR benchmarks.stderr IS NOT excluded.stderr",
            select, key=lambda b, p: p[:3], stored=lambda b: (b.score,),
            describe=lambda b: f"model {b.model!r} benchmark {b.benchmark!r} metric {b.metric!r}",
            replace=replace,
        )

    def insert_ab_units(self, batch: Sequence[Any], *, source: str | None = None,
                        replace: bool = False) -> InsertCounts:
        """Store per-unit A/B observations (``experiment, variant, unit, metric, value, meta``)."""
        params = [(u.experiment, u.variant, u.unit, u.metric, u.value, json_or_none(u.meta), source)
                  for u in batch]
        return self._insert_results(
            batch, params,
            "INSERT INTO ab_units (experiment, variant, unit, metric, value, meta, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            "ON CONFLICT(experiment, variant, unit, metric) DO UPDATE SET value = excluded.value, "
            "meta = excluded.meta, source = excluded.source WHERE ab_units.value != excluded.value",
            "SELECT value FROM ab_units WHERE experiment = ? AND variant = ? AND unit = ? AND metric = ?",
            key=lambda u, p: p[:4], stored=lambda u: (u.value,),
            describe=lambda u: (f"experiment {u.experiment!r} variant {u.variant!r} unit {u.unit!r} "
                                f"metric {u.metric!r}"),
            replace=replace,
        )

    def insert_ab_aggregates(self, batch: Sequence[Any], *, source: str | None = None,
                             replace: bool = False) -> InsertCounts:
        """Store aggregated A/B results (``experiment, variant, metric, n`` and ``mean, std`` or ``successes``)."""
        params = [(a.experiment, a.variant, a.metric, a.n, a.mean, a.std, a.successes, json_or_none(a.meta),
                   source) for a in batch]
        return self._insert_results(
            batch, params,
            "INSERT INTO ab_aggregates (experiment, variant, metric, n, mean, std, successes, meta, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            "ON CONFLICT(experiment, variant, metric) DO UPDATE SET n = excluded.n, mean = excluded.mean, "
            "std = excluded.std, successes = excluded.successes, meta = excluded.meta, source = excluded.source "
            "WHERE ab_aggregates.n != excluded.n OR ab_aggregates.mean IS NOT excluded.mean "
            "OR ab_aggregates.std IS NOT excluded.std OR ab_aggregates.successes IS NOT excluded.successes",
            "SELECT n, mean, std, successes FROM ab_aggregates WHERE experiment = ? AND variant = ? AND metric = ?",
            key=lambda a, p: p[:3], stored=lambda a: (a.n, a.mean, a.std, a.successes),
            describe=lambda a: f"experiment {a.experiment!r} variant {a.variant!r} metric {a.metric!r}",
            replace=replace,
        )

    def _insert_results(self, batch: Sequence[Any], params: list[tuple[Any, ...]], insert_sql: str,
                        upsert_clause: str, select_sql: str, *, key: Callable[[Any, tuple[Any, ...]], Any],
                        stored: Callable[[Any], tuple[Any, ...]], describe: Callable[[Any], str],
                        replace: bool) -> InsertCounts:
        """Insert-or-ignore, then explain any row that was not new: identical (counted) or conflicting (error).

        With ``replace`` a differing stored row is overwritten (and counted as inserted); within one import the
        later row wins.
        """
        if not batch:
            return InsertCounts(0, 0)
        before = self.conn.total_changes
        if replace:
            self.conn.executemany(f"{insert_sql} {upsert_clause}", params)
            inserted = self.conn.total_changes - before
            return InsertCounts(inserted, len(batch) - inserted)
        self.conn.executemany(insert_sql.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1), params)
        inserted = self.conn.total_changes - before
        if inserted < len(batch):
            for record, row in zip(batch, params):
                found = self.conn.execute(select_sql, key(record, row)).fetchone()
                if found is not None and tuple(found) != stored(record):
                    raise ConflictError(
                        f"{describe(record)} is already stored with a different value "
                        f"({format_values(found)}, now {format_values(stored(record))}); "
                        "use --replace to overwrite",
                        origin=record.origin,
                    )
        return InsertCounts(inserted, len(batch) - inserted)

    def benchmarks(self) -> list[dict[str, Any]]:
        """Every stored benchmark result with the model's name, ordered by model, benchmark and metric."""
        cur = self.conn.execute(
            "SELECT m.name, b.benchmark, b.metric, b.score, b.stderr, b.higher_is_better FROM benchmarks b "
            "JOIN models m ON m.id = b.model_id ORDER BY m.name, b.benchmark, b.metric"
        )
        return [
            {"model": model, "benchmark": bench, "metric": metric, "score": score, "stderr": stderr,
             "higher_is_better": None if hib is None else bool(hib)}
            for model, bench, metric, score, stderr, hib in cur
        ]

    def ab_unit_values(self) -> Iterator[tuple[str, str, str, float]]:
        """(experiment, metric, variant, value) for every unit, grouped by experiment, metric and variant (plain
        rows: an experiment may have many units)."""
        yield from self.conn.execute(
            "SELECT experiment, metric, variant, value FROM ab_units ORDER BY experiment, metric, variant"
        )

    def ab_aggregates(self) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT experiment, metric, variant, n, mean, std, successes FROM ab_aggregates "
            "ORDER BY experiment, metric, variant"
        )
        return [dict(zip(("experiment", "metric", "variant", "n", "mean", "std", "successes"), row))
                for row in cur]

    def ab_shared_units(self) -> list[SharedUnits]:
        """Units seen in more than one variant, per experiment and metric: a broken randomisation to warn about."""
        return [SharedUnits(*r) for r in self.conn.execute(
            "SELECT experiment, metric, count(*) FROM (SELECT experiment, metric, unit FROM ab_units "
            "GROUP BY experiment, metric, unit HAVING count(DISTINCT variant) > 1) GROUP BY experiment, metric"
        )]

    def ab_variants(self) -> dict[str, list[str]]:
        """Every experiment's variants (per-unit and aggregated results together), sorted."""
        out: dict[str, list[str]] = {}
        for experiment, variant in self.conn.execute(
            "SELECT experiment, variant FROM ab_units UNION SELECT experiment, variant FROM ab_aggregates "
            "ORDER BY 1, 2"
        ):
            out.setdefault(experiment, []).append(variant)
        return out

    def ab_controls(self) -> dict[str, str]:
        """experiment → its stored control variant."""
        return dict(self.conn.execute("SELECT experiment, control FROM ab_controls"))

    def set_ab_control(self, experiment: str, control: str, *, chosen_by: str, replace: bool = True) -> None:
        """Store an experiment's control (``replace=False``: only when it has none yet)."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self.conn.execute(f"{verb} INTO ab_controls (experiment, control, chosen_by) VALUES (?, ?, ?)",
                          (experiment, control, chosen_by))
