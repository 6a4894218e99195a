"""Votes: the bulk import (idempotent by uid) and the aggregated reads that ranking and agreement run on.

The ranking reads return plain row arrays (lists of tuples over model indexes), never one object per vote:
aggregating in SQL and handing statistics a few thousand rows is what keeps ranking 1M votes fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sbs_tui.core.records import VoteRecord, VoteRow
from sbs_tui.core.store.base import InsertCounts, Queries
from sbs_tui.core.store.errors import ConflictError
from sbs_tui.core.store.imports import committed
from sbs_tui.core.store.pair_counts_sql import RUNNING

# What makes two votes with one uid the same vote: every stored column of the row except its provenance (source,
# pair) and score_b (derived). Names as the input fields, for conflict messages.
_CONTENT = ("prompt_id", "model_a_id", "model_b_id", "winner", "weight", "annotator_id", "shown_left", "ts",
            "rationale", "criteria", "flagged", "flag_reason", "output_a", "output_b", "meta")
_CONTENT_FIELDS = ("prompt_id", "model_a", "model_b", "winner", "weight", "annotator", "left", "ts", "rationale",
                   "criteria", "flagged", "flag_reason", "output_a", "output_b", "meta")

# One row per vote for agreement statistics: (vote id, prompt_id, model_a, model_b, score_b, annotator,
# annotator kind, shown_left).
AnnotationRow = tuple[int, str, str, str, float, str, str, str | None]


@dataclass(frozen=True, slots=True)
class GoldLabel:
    """A gold (attention-check) verdict from the queue: the winner of ``model_a`` vs ``model_b`` on a prompt."""

    prompt_id: str
    model_a: str
    model_b: str
    winner: str


@dataclass(frozen=True, slots=True)
class AnnotatorVote:
    """One stored vote of an annotator, by model id (the queue reads these to make gold pairs)."""

    prompt_id: str
    model_a_id: int
    model_b_id: int
    winner: str
    weight: float


class Votes(Queries):
    """``store.votes``."""

    __slots__ = ()

    def insert(self, batch: Sequence[VoteRecord], *, source: str | None = None) -> InsertCounts:
        """Store a batch of votes; call inside ``store.transaction()``. Votes are keyed by ``uid`` (idempotent)."""
        return self.insert_rows([v.as_row() for v in batch], source=source)

    def insert_rows(self, rows: Sequence[VoteRow], *, source: str | None = None) -> InsertCounts:
        """Store votes given as ``VoteRecord.as_row()`` tuples; call inside ``store.transaction()``."""
        if not rows:
            return InsertCounts(0, 0)
        cx = self._cx
        # The prompt cache is trusted only inside an import's batch (which retries on the foreign key with fresh
        # caches): another import's rollback may since have removed a prompt this connection saw, and a single-row
        # writer (an annotator's vote, a judge's verdict) would then fail on the foreign key. Upserting its prompt
        # is one statement per vote there, nothing the writer notices.
        known = cx.known_prompt_ids if cx.import_run_id is not None else set()
        prompts = {r[1]: (r[1], r[2], None, None, None) for r in rows if r[2] is not None and r[1] not in known}
        if prompts:
            self.conn.executemany(
                "INSERT INTO prompts (id, text, category, reference, meta) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO NOTHING",
                list(prompts.values()),
            )
            known.update(prompts)
        missing = cx.missing_prompt_ids({r[1] for r in rows if r[2] is None} - known)
        if missing:
            first = next(r for r in rows if r[1] in missing)
            raise ConflictError(
                f"unknown prompt_id {first[1]!r}: import its generations first or give the prompt text",
                origin=first[-1],
            )
        # Resolve each distinct name once, then plain dict lookups: this loop runs once per vote.
        # (in order of first appearance, so ids do not depend on hash order)
        # (sets first: after an import's first batches every name is cached, and the ordered walk is the slow part)
        models, annotators = cx.model_ids, cx.annotator_ids
        if not ({r[3] for r in rows} | {r[4] for r in rows}) <= models.keys():
            for name in dict.fromkeys(name for r in rows for name in (r[3], r[4])):
                cx.model_id(name)
        if not {r[8] for r in rows} <= annotators.keys():
            for name, kind in dict.fromkeys((r[8], r[9]) for r in rows):
                cx.annotator_id(name, kind=kind)
        run_id = cx.import_run_id  # an import's batch: its votes stay uncounted until it commits
        run = () if run_id is None else (run_id,)
        params = [(r[0], r[1], models[r[3]], models[r[4]], r[5], r[6], r[7], annotators[r[8]], *r[10:20], source,
                   *run) for r in rows]
        last_id = self.last_id() if run_id is not None else 0
        cur = self.conn.executemany(
            # ON CONFLICT(uid), not INSERT OR IGNORE: OR IGNORE would also swallow CHECK violations.
            "INSERT INTO votes (uid, prompt_id, model_a_id, model_b_id, winner, weight, score_b, "
            "annotator_id, shown_left, ts, rationale, criteria, flagged, flag_reason, output_a, output_b, "
            f"pair_id, meta, source{', run_id' * len(run)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            f"?, ?, ?, ?{', ?' * len(run)}) ON CONFLICT(uid) DO NOTHING",
            params,
        )
        inserted = cur.rowcount  # rows this statement inserted (total_changes would add the triggers' writes)
        if run_id is not None:
            from sbs_tui.core.store.pair_counts import PairCounts

            # the insert trigger leaves an import's rows to one count per batch: from the rows themselves when
            # all went in, else from the rows the statement inserted
            if inserted == len(rows):
                PairCounts(self._cx).add_rows(run_id, map(itemgetter(7, 2, 3, 6, 12), params))
            elif inserted:
                PairCounts(self._cx).add_inserted(last_id)
            if inserted < len(rows):
                self._claim([r[0] for r in rows])
        return InsertCounts(inserted, len(rows) - inserted)

    def _claim(self, uids: list[str]) -> None:
        """Votes this import brings that another, still running, import stored first (``store.imports.claim``)."""
        from sbs_tui.core.store.imports import Imports

        imports = Imports(self._cx)
        for i in range(0, len(uids), 500):
            chunk = uids[i:i + 500]
            imports.claim("votes", f"uid IN ({','.join('?' * len(chunk))})", list(chunk))

    # -- imports: identity and conflicts ---------------------------------------------------------------------------

    def last_id(self) -> int:
        """The id of the latest stored vote (0 when none): how big a computation over votes will be."""
        return self.conn.execute("SELECT coalesce(max(id), 0) FROM votes").fetchone()[0]

    def import_rows(self, rows: Sequence[VoteRow], *, source: str | None = None,
                    replace: bool = False) -> InsertCounts:
        """Store one batch of an imported file (:meth:`insert_rows`), refusing what contradicts stored votes.

        A vote's identity is its ``vote_id`` when the row has one, else its whole content (the rule in the README's
        data formats): two different ids are two votes, an identical row is the same vote, and a row that differs
        in any field is another vote (an annotator re-judging an item is a second vote, in whatever file it comes).
        So the stored votes are the same whether rows arrive in one file, in several files in turn or at once. The
        one contradiction is a ``vote_id`` already stored with other content: a :class:`ConflictError` (naming the
        row's ``file:line``), or with ``replace`` the stored vote is rewritten in place and counted as
        ``replaced``. The check runs inside the caller's write transaction, against the unique index, so two
        imports at once cannot both pass it. Call inside a transaction.
        """
        if not rows:
            return InsertCounts(0, 0)
        counts = self.insert_rows(rows, source=source)
        rewritten = self._reused_ids(rows, source, replace) if counts.already_stored else 0
        return InsertCounts(counts.inserted, counts.already_stored - rewritten, rewritten)

    def _reused_ids(self, rows: Sequence[VoteRow], source: str | None, replace: bool) -> int:
        """Given vote ids whose stored vote has other content: an error, or (``replace``) rewritten in place."""
        given = [r for r in rows if r[20]]
        if not given:
            return 0  # content uids: one uid is one content
        stored: dict[str, tuple[Any, ...]] = {}
        uids = list({r[0] for r in given})
        for i in range(0, len(uids), 500):
            chunk = uids[i:i + 500]
            for row in self.conn.execute(f"SELECT uid, {', '.join(_CONTENT)} FROM votes "
                                         f"WHERE uid IN ({','.join('?' * len(chunk))})", chunk):
                stored[row[0]] = tuple(row[1:])
        models, annotators = self._cx.model_ids, self._cx.annotator_ids
        rewritten = 0
        for r in given:
            mine = (r[1], models[r[3]], models[r[4]], r[5], r[6], annotators[r[8]], *r[10:18], r[19])
            old = stored.get(r[0])
            differ = [] if old is None or old == mine else _differing(old, mine)
            if not differ:
                continue
            if not replace:
                raise ConflictError(f"vote_id {r[0]!r} is already stored with different content ({', '.join(differ)} "
                                    "differ); use --replace to overwrite the stored vote",
                                    origin=r[-1], field="vote_id")
            self.conn.execute(f"UPDATE votes SET {', '.join(f'{c} = ?' for c in _CONTENT)}, score_b = ?, "
                              "source = ? WHERE uid = ?", (*mine, r[7], source, r[0]))
            stored[r[0]] = mine
            rewritten += 1
        return rewritten

    # -- ranking reads ---------------------------------------------------------------------------------------------

    def outcomes(self, *, annotators: Sequence[str] | None = None, category: str | None = None,
                 include_flagged: bool = False) -> tuple[list[str], list[tuple[int, int, float, int]]]:
        """Votes aggregated for ranking: model names and rows (index_a, index_b, score_b, count).

        Aggregating in SQL (one row per distinct outcome of a model pair) is what keeps ranking 1M votes fast:
        statistics then work on a few thousand rows, never on the raw votes. For ``--annotator`` and
        ``--category`` (seeking their votes by ``idx_votes_annotator`` / ``idx_votes_item``); a whole voter
        class reads ``store.pair_counts`` instead — unfiltered, this scans every vote.
        """
        where, params = _vote_filter(annotators, category, include_flagged)
        rows = self.conn.execute(
            "SELECT model_a_id, model_b_id, score_b, count(*) FROM votes v"
            f"{where} GROUP BY model_a_id, model_b_id, score_b",
            params,
        ).fetchall()
        names, index = self._indexed_models(rows)
        return names, [(index[a], index[b], s, n) for a, b, s, n in rows]

    def _indexed_models(self, rows: list[tuple[Any, ...]]) -> tuple[list[str], dict[int, int]]:
        ids = sorted({r[0] for r in rows} | {r[1] for r in rows})
        names = self._cx.model_names_by_id()
        return [names[i] for i in ids], {mid: k for k, mid in enumerate(ids)}

    def sequence(self, *, annotators: Sequence[str] | None = None, category: str | None = None,
                 include_flagged: bool = False) -> tuple[list[str], list[tuple[int, int, float]]]:
        """Votes one by one in the order they were cast (``ts``, then insertion order; votes without a time
        stamp last): model names and rows (index_a, index_b, score_b). For the order-dependent online Elo and
        TrueSkill."""
        where, params = _vote_filter(annotators, category, include_flagged)
        rows = self.conn.execute(
            f"SELECT model_a_id, model_b_id, score_b FROM votes v{where} ORDER BY (v.ts IS NULL), v.ts, v.id",
            params,
        ).fetchall()
        names, index = self._indexed_models(rows)
        return names, [(index[a], index[b], s) for a, b, s in rows]

    def covariates(self, *, annotators: Sequence[str] | None = None, category: str | None = None,
                   include_flagged: bool = False, texts: bool = False,
                   ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Per vote, for length/style control: model names and rows (index_a, index_b, score_b, prompt_id,
        chars_a, chars_b[, text_a, text_b]). The judged text is the vote's own ``output_a``/``output_b`` when
        stored, else the model's generation for the prompt; NULL when neither exists."""
        where, params = _vote_filter(annotators, category, include_flagged)
        text_cols = (", coalesce(v.output_a, ga.output), coalesce(v.output_b, gb.output)" if texts else "")
        rows = self.conn.execute(
            "SELECT v.model_a_id, v.model_b_id, v.score_b, v.prompt_id, "
            "coalesce(length(v.output_a), ga.output_chars), coalesce(length(v.output_b), gb.output_chars)"
            f"{text_cols} FROM votes v "
            "LEFT JOIN generations ga ON ga.prompt_id = v.prompt_id AND ga.model_id = v.model_a_id "
            f"AND {committed('ga')} "
            "LEFT JOIN generations gb ON gb.prompt_id = v.prompt_id AND gb.model_id = v.model_b_id "
            f"AND {committed('gb')}{where} ORDER BY v.id",
            params,
        ).fetchall()
        names, index = self._indexed_models(rows)
        return names, [(index[r[0]], index[r[1]], *r[2:]) for r in rows]

    def annotator_kinds(self) -> dict[str, str]:
        """Annotator name → kind ('human' or 'judge') for every annotator with at least one vote."""
        return dict(self.conn.execute(
            "SELECT an.name, an.kind FROM annotators an WHERE EXISTS "
            f"(SELECT 1 FROM votes v WHERE v.annotator_id = an.id AND {committed('v')}) ORDER BY an.name"
        ))

    def annotations(self, *, annotators: Sequence[str] | None = None, category: str | None = None,
                    include_flagged: bool = False) -> list[AnnotationRow]:
        """Per vote, for agreement statistics (:data:`AnnotationRow`), in insertion order. Plain rows, not
        objects: agreement builds its own per-vote records from them once."""
        where, params = _vote_filter(annotators, category, include_flagged)
        return self.conn.execute(
            "SELECT v.id, v.prompt_id, ma.name, mb.name, v.score_b, an.name, an.kind, v.shown_left FROM votes v "
            "JOIN models ma ON ma.id = v.model_a_id JOIN models mb ON mb.id = v.model_b_id "
            f"JOIN annotators an ON an.id = v.annotator_id{where} ORDER BY v.id",
            params,
        ).fetchall()

    def gold_labels(self) -> list[GoldLabel] | None:
        """Gold verdicts of the annotation queue, or None when the database has none.

        Reads the queue's ``pairs`` table (``gen_a_id``/``gen_b_id`` → generations → models, ``gold_winner``
        naming the winner as a vote does, on pairs with ``is_gold = 1``). Returns None when the table or those
        columns do not exist (no queue in this database)."""
        if "pairs" not in self._cx.db.table_names():
            return None
        cols = set(self._cx.db["pairs"].columns_dict)
        if not {"prompt_id", "gen_a_id", "gen_b_id", "gold_winner"} <= cols:
            return None
        gold_only = " AND p.is_gold = 1" if "is_gold" in cols else ""
        rows = self.conn.execute(
            "SELECT p.prompt_id, ma.name, mb.name, p.gold_winner FROM pairs p "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id "
            "JOIN models ma ON ma.id = ga.model_id JOIN models mb ON mb.id = gb.model_id "
            f"WHERE p.gold_winner IS NOT NULL{gold_only}"
        ).fetchall()
        # the queue's tables exist in every database (0002_queue); no gold pairs = none
        return [GoldLabel(*r) for r in rows] or None

    def by_annotator(self, annotator: str) -> list[AnnotatorVote]:
        """One annotator's votes (the queue turns a trusted annotator's votes into gold answers)."""
        return [AnnotatorVote(*r) for r in self.conn.execute(
            "SELECT v.prompt_id, v.model_a_id, v.model_b_id, v.winner, v.weight FROM votes v "
            f"JOIN annotators a ON a.id = v.annotator_id WHERE a.name = ? AND {committed('v')}",
            (annotator,),
        )]

    def flagged_count(self) -> int:
        """Votes stored with the flag set (excluded from rankings unless asked for), from the kept counts
        (``store.pair_counts``: every committed vote by its flag) rather than a scan of the votes."""
        return self.conn.execute(f"SELECT coalesce(sum(n), 0) FROM pair_counts WHERE flagged = 1 "
                                 f"AND (bucket = 0 OR bucket NOT IN ({RUNNING}))").fetchone()[0]


def _differing(stored: tuple[Any, ...], given: tuple[Any, ...]) -> list[str]:
    """Input fields in which two :data:`_CONTENT` tuples differ; an empty output is the same as none (a CSV
    export cannot tell them apart)."""
    return [name for i, (name, a, b) in enumerate(zip(_CONTENT_FIELDS, stored, given, strict=True))
            if a != b and not (i in _OUTPUTS and not a and not b)]


_OUTPUTS = (_CONTENT.index("output_a"), _CONTENT.index("output_b"))


def _vote_filter(annotators: Sequence[str] | None, category: str | None,
                 include_flagged: bool) -> tuple[str, list[Any]]:
    clauses: list[str] = [committed("v")]  # never half an import
    params: list[Any] = []
    if annotators:
        clauses.append(
            f"v.annotator_id IN (SELECT id FROM annotators WHERE name IN ({','.join('?' * len(annotators))}))"
        )
        params.extend(annotators)
    if category is not None:
        clauses.append("v.prompt_id IN (SELECT id FROM prompts WHERE category = ?)")
        params.append(category)
    if not include_flagged:
        clauses.append("v.flagged = 0")
    return " WHERE " + " AND ".join(clauses), params
