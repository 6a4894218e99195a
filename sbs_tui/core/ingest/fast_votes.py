"""The vote import's fast path: a well-formed contract row straight to its store tuple, everything else to the rules.

Why: parsing and validating a vote through :func:`~sbs_tui.core.ingest.rows.vote_from_row` (fifteen field
helpers, a ``VoteRecord``, ``as_row``) cost ~20 µs of CPU, which capped `sbs import votes` near 48k votes per
CPU-second before SQLite did anything (issue 22). Almost every row of a large import is the common shape: a few
plain text fields, no weight, criteria, meta or unknown field. :func:`fast_vote_row` builds exactly the tuple
``vote_from_row(row).as_row()`` would for such a row, and returns ``None`` for anything else — an odd type, a
blank name, a winner given as a model's name, an extra field, an AlpacaEval record — which then goes through
the slow path, the one place that decides what an unusual row means and words its error. So the fast path can
never accept a row the rules refuse, nor word an error: ``tests/test_fast_votes.py`` checks both paths give
identical tuples on random valid and invalid rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sbs_tui.core.ingest.rows import _WINNER_ALIASES, SkipRow, vote_from_row
from sbs_tui.core.io.readers import iter_rows
from sbs_tui.core.records import VoteRow, current_uid, prompt_id_for, uid_digest
from sbs_tui.errors import InputError

# The fields a row may carry and still take the fast path (all text, or ``flagged`` as a JSON boolean). A row
# with any other key (weight, criteria, meta, an unknown field, AlpacaEval's) takes the slow path.
_FAST_KEYS = frozenset({"prompt", "prompt_id", "model_a", "model_b", "winner", "annotator", "annotator_kind",
                        "left", "ts", "rationale", "flag_reason", "output_a", "output_b", "vote_id", "flagged"})
# Optional text fields taken as they are (absent or null is None; "" means the slow path: it decides what "" is).
_PLAIN_OPTIONAL = ("ts", "rationale", "flag_reason")
_SCORE_B = {"model_a": 0.0, "model_b": 1.0, "tie": 0.5, "both_bad": 0.5}  # records.score_b at weight 1


def _opt(value: Any) -> bool:
    """An optional text field the fast path takes: absent/null or non-empty text."""
    return value is None or (type(value) is str and value != "")


def fast_vote_row(row: dict[str, Any], origin: str) -> VoteRow | None:  # noqa: C901 - one straight line of checks
    """``vote_from_row(row).as_row()`` with ``origin`` for a common well-formed contract row, else ``None``."""
    if not row.keys() <= _FAST_KEYS:
        return None
    get = row.get
    model_a, model_b, annotator, raw_winner = get("model_a"), get("model_b"), get("annotator"), get("winner")
    if type(model_a) is not str or type(model_b) is not str or type(annotator) is not str \
            or type(raw_winner) is not str:
        return None
    model_a, model_b, annotator = model_a.strip(), model_b.strip(), annotator.strip()
    if not model_a or not model_b or not annotator or model_a == model_b:
        return None
    winner = _WINNER_ALIASES.get(raw_winner.strip().lower())
    prompt, prompt_id = get("prompt"), get("prompt_id")
    if winner is None or not _opt(prompt) or not _opt(prompt_id) or (prompt is None and prompt_id is None):
        return None
    ts, rationale, flag_reason = get("ts"), get("rationale"), get("flag_reason")
    if not (_opt(ts) and _opt(rationale) and _opt(flag_reason)):
        return None
    output_a, output_b = get("output_a"), get("output_b")
    if not (output_a is None or type(output_a) is str) or not (output_b is None or type(output_b) is str):
        return None
    flagged = get("flagged")
    if flagged is None:
        flagged = False
    elif type(flagged) is not bool:
        return None
    kind, left, vote_id = get("annotator_kind"), get("left"), get("vote_id")
    if kind is None:
        kind = "human"
    elif type(kind) is not str or kind == "" or (kind := kind.strip()) not in ("human", "judge"):
        return None
    shown_left = None
    if left is not None:
        if type(left) is not str or left == "":
            return None
        left = left.strip()
        if left in ("model_a", "model_b"):
            shown_left = left
        elif left == model_a:
            shown_left = "model_a"
        elif left == model_b:
            shown_left = "model_b"
        else:
            return None
    uid = ""
    if vote_id is not None:
        if type(vote_id) is not str or vote_id == "":
            return None
        uid = current_uid(vote_id.strip())
    prompt_id = prompt_id.strip() if prompt_id else prompt_id_for(prompt or "")
    uid_given = bool(uid)
    if not uid_given:  # VoteRecord.content_uid, with the same payload
        uid = "v_" + uid_digest([prompt_id, model_a, model_b, winner, "1.0", annotator, shown_left, ts, rationale,
                                 None, flagged, flag_reason, output_a, output_b, {}])[:24]
    return (uid, prompt_id, prompt, model_a, model_b, winner, 1.0, _SCORE_B[winner], annotator, kind, shown_left,
            ts, rationale, None, int(flagged), flag_reason, output_a, output_b, None, None, uid_given, origin)


def slow_vote_row(row: dict[str, Any], origin: str) -> VoteRow:
    """The rules' tuple for any row (raises :class:`InputError` or :class:`SkipRow` as they do)."""
    record = vote_from_row(row)
    record.origin = origin
    return record.as_row()


def iter_vote_rows(path: Path, *, skipped: Any, count_identical: Callable[[int], None],
                   on_progress: Callable[[int], None] | None = None) -> Iterator[VoteRow]:
    """Every vote of one file as a store tuple: what ``iter_records(path, vote_from_row)`` then ``as_row`` give,
    with ``file:line`` on records and errors and skipped rows counted, but each common row on the fast path.

    ``count_identical(key)`` is called with a 64-bit prefix of each content uid (the importer's identical-row
    count); rows with a ``vote_id`` are not passed.
    """
    name = str(path)
    for item in iter_rows(path, on_progress=on_progress):
        origin = f"{name}:{item.line}"
        out = fast_vote_row(item.data, origin)
        if out is None:
            try:
                out = slow_vote_row(item.data, origin)
            except SkipRow as skip:
                skipped[skip.reason] += 1
                continue
            except InputError as exc:
                raise InputError(exc.message, file=name, line=item.line, field=exc.field) from None
        if not out[20]:
            count_identical(int(out[0][2:18], 16))
        yield out
