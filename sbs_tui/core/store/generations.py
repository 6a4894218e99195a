"""Prompts and model generations: import (idempotent, conflicts refused), gate status, and reading them to score."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sbs_tui.core.records import GenerationRecord, GenerationRow
from sbs_tui.core.store.base import InsertCounts, Queries
from sbs_tui.core.store.errors import ConflictError
from sbs_tui.core.store.imports import committed

_SCORING_COLUMNS = ("SELECT g.id, g.prompt_id, p.text, m.name, g.output, g.output_sha, p.reference, p.category "
                    "FROM generations g JOIN prompts p ON p.id = g.prompt_id JOIN models m ON m.id = g.model_id ")


class Generations(Queries):
    """``store.generations``."""

    __slots__ = ()

    def ensure_prompts(self, rows: Iterable[tuple[str, str, str | None, str | None, str | None]]) -> None:
        """Insert prompts that are new; fill in category/reference that earlier files did not have."""
        self.conn.executemany(
            "INSERT INTO prompts (id, text, category, reference, meta) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET category = coalesce(prompts.category, excluded.category), "
            "reference = coalesce(prompts.reference, excluded.reference)",
            list(rows),
        )

    def insert(self, batch: Sequence[GenerationRecord], *, source: str | None = None,
               replace: bool = False) -> InsertCounts:
        """Store a batch of generations; call inside ``store.transaction()``. See :meth:`insert_rows`."""
        return self.insert_rows([g.as_row() for g in batch], source=source, replace=replace)

    def insert_rows(self, rows: Sequence[GenerationRow], *, source: str | None = None,
                    replace: bool = False) -> InsertCounts:
        """Store generations given as ``GenerationRecord.as_row()`` tuples; call inside ``store.transaction()``.

        A generation is identified by (prompt, model). The same output again is skipped (idempotent import);
        a *different* output for a stored (prompt, model) raises :class:`ConflictError` unless ``replace`` —
        silently swapping an answer that annotators may already have judged would corrupt their votes.
        """
        if not rows:
            return InsertCounts(0, 0)
        self.ensure_prompts((r[0], r[1], r[5], r[6], None) for r in rows)
        model_id = self._cx.model_id
        run_id = self._cx.import_run_id
        params = [(r[0], model_id(r[2]), r[3], r[4], len(r[3]), r[7], source, run_id) for r in rows]
        before = self.conn.total_changes
        if replace:
            self.conn.executemany(
                "INSERT INTO generations (prompt_id, model_id, output, output_sha, output_chars, meta, source, "
                "run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(prompt_id, model_id) DO UPDATE SET "
                "output = excluded.output, output_sha = excluded.output_sha, "
                "output_chars = excluded.output_chars, meta = excluded.meta, source = excluded.source, "
                "gate_status = 'pending' WHERE generations.output_sha != excluded.output_sha",
                params,
            )
            inserted = self.conn.total_changes - before
            return InsertCounts(inserted, len(rows) - inserted)
        self.conn.executemany(
            "INSERT INTO generations (prompt_id, model_id, output, output_sha, output_chars, meta, "
            "source, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(prompt_id, model_id) DO NOTHING",
            params,
        )
        inserted = self.conn.total_changes - before
        if inserted < len(rows):
            self._check_conflicts(rows)
            if run_id is not None:
                self._claim(params)
        return InsertCounts(inserted, len(rows) - inserted)

    def _claim(self, params: list[tuple[Any, ...]]) -> None:
        """Generations this import brings that another, still running, import stored first (identical: a
        different output was refused above)."""
        from sbs_tui.core.store.imports import Imports

        imports = Imports(self._cx)
        for i in range(0, len(params), 300):
            chunk = params[i:i + 300]
            where = " OR ".join(["(prompt_id = ? AND model_id = ?)"] * len(chunk))
            imports.claim("generations", where, [v for p in chunk for v in (p[0], p[1])])

    def _check_conflicts(self, rows: Sequence[GenerationRow]) -> None:
        for prompt_id, _prompt, model, _output, output_sha, *_rest, origin in rows:
            row = self.conn.execute(
                "SELECT output_sha FROM generations WHERE prompt_id = ? AND model_id = ?",
                (prompt_id, self._cx.model_id(model)),
            ).fetchone()
            if row is not None and row[0] != output_sha:
                raise ConflictError(
                    f"model {model!r} already has a different output for prompt {prompt_id}; "
                    "use --replace to overwrite stored outputs",
                    origin=origin,
                )

    def set_gate_status(self, generation_ids: Iterable[int], status: str) -> None:
        """Mark generations 'pending', 'passed' or 'blocked'. Only 'passed' generations reach annotators."""
        self.conn.executemany("UPDATE generations SET gate_status = ? WHERE id = ?",
                              [(status, gid) for gid in generation_ids])

    def ids(self, *, gate_status: str | None = None) -> list[int]:
        if gate_status is None:
            return [r[0] for r in self.conn.execute(f"SELECT id FROM generations g WHERE {committed('g')} ORDER BY id")]
        return [r[0] for r in self.conn.execute(
            f"SELECT id FROM generations g WHERE gate_status = ? AND {committed('g')} ORDER BY id", (gate_status,))]

    def count_pending(self) -> int:
        return self.conn.execute(f"SELECT count(*) FROM generations g WHERE gate_status = 'pending' "
                                 f"AND {committed('g')}").fetchone()[0]

    # -- what `sbs generate` needs -------------------------------------------------------------------------------

    def stored_prompts(self, *, limit: int | None = None) -> list[tuple[str, str, str | None, str | None]]:
        """(prompt_id, text, category, reference) of every stored prompt, in id order (``sbs generate
        --from-db``). The live arena's prompts are left out, as ``sbs queue build`` leaves out their answers: each
        is one annotator's own (docs/arena.md), and answers generated for it would reach the team's queue."""
        from sbs_tui.core.store.arena import ARENA_SOURCE

        sql = ("SELECT id, text, category, reference FROM prompts WHERE NOT (id LIKE 'arena-%' AND EXISTS "
               f"(SELECT 1 FROM generations g WHERE g.prompt_id = prompts.id AND g.source LIKE '{ARENA_SOURCE} %')) "
               "ORDER BY id")
        if limit is not None:
            return [tuple(r) for r in self.conn.execute(sql + " LIMIT ?", (limit,))]
        return [tuple(r) for r in self.conn.execute(sql)]

    def generated_with(self, model: str, prompt_ids: Sequence[str]) -> dict[str, str | None]:
        """prompt_id → the ``meta.generate.params_hash`` of ``model``'s stored generation (None when it was
        imported, not generated), for the prompts that have one: what a resumed ``sbs generate`` skips."""
        found: dict[str, str | None] = {}
        row = self.conn.execute("SELECT id FROM models WHERE name = ?", (model,)).fetchone()
        if row is None:
            return found
        for start in range(0, len(prompt_ids), 500):
            chunk = list(prompt_ids[start:start + 500])
            cur = self.conn.execute(
                "SELECT prompt_id, json_extract(meta, '$.generate.params_hash') FROM generations "
                f"WHERE model_id = ? AND prompt_id IN ({','.join('?' * len(chunk))})", (row[0], *chunk))
            found.update({r[0]: r[1] for r in cur})
        return found

    # -- reading generations to score ---------------------------------------------------------------------------

    def pending(self, *, limit: int, after_id: int = 0) -> list[dict[str, Any]]:
        """The next ``limit`` generations with gate_status 'pending' (id order), with what scorers need."""
        cur = self.conn.execute(f"{_SCORING_COLUMNS}WHERE g.gate_status = 'pending' AND g.id > ? "
                                f"AND {committed('g')} ORDER BY g.id "
                                "LIMIT ?", (after_id, limit))
        return [_scoring_row(r) for r in cur]

    def iter_for_scoring(self, *, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every generation (id order), read in pages so a large database streams."""
        last = 0
        while True:
            rows = self.conn.execute(f"{_SCORING_COLUMNS}WHERE g.id > ? AND {committed('g')} ORDER BY g.id LIMIT ?",
                                     (last, batch)).fetchall()
            if not rows:
                return
            for r in rows:
                yield _scoring_row(r)
            last = rows[-1][0]


def _scoring_row(r: Sequence[Any]) -> dict[str, Any]:
    # A dict, not a dataclass: scorers receive it as their input row (the scorer API's contract).
    return {"id": r[0], "prompt_id": r[1], "prompt": r[2], "model": r[3], "output": r[4],
            "output_sha": r[5], "reference": r[6], "category": r[7]}
