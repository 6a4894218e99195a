"""Rows into records: the field rules every importer (and ``sbs score``'s reader) applies to one file row.

Why its own module: generations, votes and results are read by the same rules (required text, numbers that may
arrive as text, AlpacaEval's field names, an unknown field kept as ``extra``), and the import machinery
(:mod:`sbs_tui.core.ingest.importer`) is about batching and transactions, not about what a row means.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbs_tui.core.io.readers import MAX_DEPTH, iter_rows, json_problem, too_deep
from sbs_tui.core.records import WINNERS, GenerationRecord, VoteRecord, current_uid, prompt_id_for
from sbs_tui.errors import InputError


class SkipRow(Exception):
    """A row that is valid but carries nothing to store (e.g. an AlpacaEval record with no verdict)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------------------------
# Field helpers: every error names the field; CSV gives strings, JSON gives types — accept both where sane.
# --------------------------------------------------------------------------------------------------------------

def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


# Identifier-like fields where a JSON number is read as its text (``"prompt_id": 17``, an epoch ``ts``, a user id
# as an A/B ``unit``); in every other text field a number is an input error, as an object is (``{"output": 1}``,
# ``"model": NaN`` — which used to create a model named "nan").
_NUMBER_AS_TEXT = {"prompt_id", "vote_id", "ts", "unit", "variant", "experiment"}


def _text(row: dict[str, Any], key: str, *, required: bool = True, allow_empty: bool = False) -> str | None:
    value = row.get(key)
    if type(value) is str and value:  # the common case, kept cheap: imports run this ~15 times a row
        return value
    if value is None and not required:
        return None
    if _blank(value):
        if value == "" and allow_empty and key in row:
            return ""
        if required:
            raise InputError("missing or empty" if key in row else "missing", field=key)
        return None
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise InputError(f"expected text, got {type(value).__name__}", field=key)
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"expected text, got {value!r} (NaN and Infinity are not JSON)", field=key)
    if isinstance(value, (int, float)):
        if key in _NUMBER_AS_TEXT:
            return str(value)
        raise InputError(f"expected text, got a number ({value!r}); quote it to store it as text", field=key)
    if not isinstance(value, str):
        raise InputError(f"expected text, got {type(value).__name__}", field=key)
    return value


def _name(row: dict[str, Any], key: str) -> str:
    """A model or annotator name: non-empty after trimming (names are compared exactly, so trim once here)."""
    value = _text(row, key)
    assert value is not None
    value = value.strip()
    if not value:
        raise InputError("is blank", field=key)
    return value


def _float(row: dict[str, Any], key: str) -> float | None:
    value: Any = row.get(key)
    if type(value) is float and math.isfinite(value):
        return value
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise InputError("expected a number, got a boolean", field=key)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"expected a number, got {value!r}", field=key) from None
    if not math.isfinite(number):
        raise InputError(f"expected a finite number, got {value!r}", field=key)
    return number


def _object(row: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = row.get(key)
    if value is None:
        return None
    if _blank(value):
        return None
    if isinstance(value, str):  # CSV: a JSON-encoded object
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError("expected a JSON object", field=key) from None
        except (RecursionError, ValueError) as exc:
            raise InputError(json_problem(exc), field=key) from None
        if too_deep(value):
            raise InputError(f"nested too deeply (more than {MAX_DEPTH} levels)", field=key)
    if not isinstance(value, dict):
        raise InputError(f"expected an object, got {type(value).__name__}", field=key)
    return value


def _bool(row: dict[str, Any], key: str) -> bool:
    value = row.get(key)
    if value is None:
        return False
    if _blank(value):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise InputError(f"expected true/false, got {value!r}", field=key)


def _extra(row: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """Unknown fields are kept as metadata (contract); an explicit ``meta`` object is merged in."""
    meta = dict(_object(row, "meta") or {})
    for key, value in row.items():
        if key not in known and key != "meta" and not _blank(value):
            meta[key] = value
    return meta


# --------------------------------------------------------------------------------------------------------------
# Generations
# --------------------------------------------------------------------------------------------------------------

GENERATION_FIELDS = {"prompt", "model", "output", "prompt_id", "category", "reference"}
ALPACA_OUTPUT_FIELDS = {"instruction", "output", "generator", "dataset"}


def is_alpaca_output(row: dict[str, Any]) -> bool:
    return "instruction" in row and "generator" in row and "model" not in row


def generation_from_row(row: dict[str, Any]) -> GenerationRecord:
    """One generation from a contract row or an AlpacaEval ``model_outputs`` record."""
    if is_alpaca_output(row):
        prompt = _text(row, "instruction")
        model = _name(row, "generator")
        output = _text(row, "output", allow_empty=True)
        category = _text(row, "dataset", required=False)
        meta = _extra(row, ALPACA_OUTPUT_FIELDS | {"prompt_id", "reference", "category"})
        prompt_id = _text(row, "prompt_id", required=False)
        reference = _text(row, "reference", required=False)
        category = _text(row, "category", required=False) or category
    else:
        prompt = _text(row, "prompt")
        model = _name(row, "model")
        output = _text(row, "output", allow_empty=True)
        prompt_id = _text(row, "prompt_id", required=False)
        category = _text(row, "category", required=False)
        reference = _text(row, "reference", required=False)
        meta = _extra(row, GENERATION_FIELDS)
    assert prompt is not None and output is not None
    return GenerationRecord(
        prompt_id=prompt_id.strip() if prompt_id else prompt_id_for(prompt),
        prompt=prompt, model=model, output=output, category=category, reference=reference, meta=meta,
    )


# --------------------------------------------------------------------------------------------------------------
# Votes
# --------------------------------------------------------------------------------------------------------------

VOTE_FIELDS = {"prompt", "prompt_id", "model_a", "model_b", "winner", "annotator", "output_a", "output_b", "ts",
               "rationale", "criteria", "left", "weight", "vote_id", "annotator_kind", "flagged", "flag_reason"}
ALPACA_VOTE_FIELDS = {"instruction", "generator_1", "generator_2", "preference", "annotator", "output_1",
                      "output_2"}
_WINNER_ALIASES = {
    "model_a": "model_a", "a": "model_a", "model_b": "model_b", "b": "model_b", "tie": "tie", "draw": "tie",
    "both_bad": "both_bad", "tie (bothbad)": "both_bad", "tie(bothbad)": "both_bad", "bothbad": "both_bad",
    "both bad": "both_bad",
}


def is_alpaca_vote(row: dict[str, Any]) -> bool:
    return "generator_1" in row and "generator_2" in row and "preference" in row


def _winner(row: dict[str, Any], model_a: str, model_b: str) -> str:
    raw = _text(row, "winner")
    assert raw is not None
    label = _WINNER_ALIASES.get(raw.strip().lower())
    if label is None:
        # A winner given as the model's own name is unambiguous; accept it.
        if raw.strip() == model_a:
            return "model_a"
        if raw.strip() == model_b:
            return "model_b"
        raise InputError(f"must be one of {', '.join(WINNERS)} (or 'tie (bothbad)'), got {raw!r}", field="winner")
    return label


def _shown_left(row: dict[str, Any], model_a: str, model_b: str) -> str | None:
    raw = _text(row, "left", required=False)
    if raw is None:
        return None
    raw = raw.strip()
    if raw in ("model_a", "model_b"):
        return raw
    if raw == model_a:
        return "model_a"
    if raw == model_b:
        return "model_b"
    raise InputError(f"must name model_a or model_b ({model_a!r} or {model_b!r}), got {raw!r}", field="left")


def vote_from_row(row: dict[str, Any]) -> VoteRecord:
    """One vote from a contract row or an AlpacaEval annotation record (which may be skipped: no verdict)."""
    if is_alpaca_vote(row):
        return _alpaca_vote(row)
    model_a = _name(row, "model_a")
    model_b = _name(row, "model_b")
    if model_a == model_b:
        raise InputError(f"model_a and model_b are the same model ({model_a!r})", field="model_b")
    prompt = _text(row, "prompt", required=False)
    prompt_id = _text(row, "prompt_id", required=False)
    if prompt is None and prompt_id is None:
        raise InputError("a vote needs 'prompt' or 'prompt_id'", field="prompt")
    winner = _winner(row, model_a, model_b)
    weight = _float(row, "weight")
    if weight is None:
        weight = 1.0
    elif winner in ("tie", "both_bad"):
        if weight != 1.0:
            raise InputError("a tie carries no weight (omit it or use 1)", field="weight")
    elif not 0.5 <= weight <= 1.0:
        raise InputError(f"must be in [0.5, 1] (the winner's share of the win), got {weight}", field="weight")
    kind = (_text(row, "annotator_kind", required=False) or "human").strip()
    if kind not in ("human", "judge"):
        raise InputError(f"must be 'human' or 'judge', got {kind!r}", field="annotator_kind")
    return VoteRecord(
        prompt_id=prompt_id.strip() if prompt_id else prompt_id_for(prompt or ""),
        prompt=prompt,
        model_a=model_a,
        model_b=model_b,
        winner=winner,
        weight=weight,
        annotator=_name(row, "annotator"),
        annotator_kind=kind,
        shown_left=_shown_left(row, model_a, model_b),
        ts=_text(row, "ts", required=False),
        rationale=_text(row, "rationale", required=False),
        criteria=_object(row, "criteria"),
        flagged=_bool(row, "flagged"),
        flag_reason=_text(row, "flag_reason", required=False),
        output_a=_text(row, "output_a", required=False, allow_empty=True),
        output_b=_text(row, "output_b", required=False, allow_empty=True),
        meta=_extra(row, VOTE_FIELDS),
        uid=current_uid((_text(row, "vote_id", required=False) or "").strip()),
    )


def _alpaca_vote(row: dict[str, Any]) -> VoteRecord:
    """AlpacaEval: preference 1 → generator_1 wins, 2 → generator_2 wins, in between → weighted, 1.5 or 0 → draw.

    A preference p strictly between 1 and 2 is worth (p − 1) of a win to generator_2 — AlpacaEval's weighted
    win rate. Stored as winner + weight (the winner's share), and the original value is kept in ``meta``.
    """
    preference = _float(row, "preference")
    if preference is None:
        raise SkipRow("no verdict (preference is null)")
    model_a = _name(row, "generator_1")
    model_b = _name(row, "generator_2")
    if model_a == model_b:
        raise InputError(f"generator_1 and generator_2 are the same model ({model_a!r})", field="generator_2")
    if preference == 0 or preference == 1.5:
        winner, weight = "tie", 1.0
    elif 1.0 <= preference < 1.5:
        winner, weight = "model_a", 2.0 - preference
    elif 1.5 < preference <= 2.0:
        winner, weight = "model_b", preference - 1.0
    else:
        raise InputError(f"must be in [1, 2] or 0 (draw), got {preference!r}", field="preference")
    prompt = _text(row, "instruction")
    assert prompt is not None
    meta = _extra(row, ALPACA_VOTE_FIELDS)
    meta["preference"] = preference
    return VoteRecord(
        prompt_id=prompt_id_for(prompt), prompt=prompt, model_a=model_a, model_b=model_b, winner=winner,
        weight=weight, annotator=(_text(row, "annotator", required=False) or "alpaca_eval").strip(),
        annotator_kind="judge",
        output_a=_text(row, "output_1", required=False, allow_empty=True),
        output_b=_text(row, "output_2", required=False, allow_empty=True),
        meta=meta,
    )


# --------------------------------------------------------------------------------------------------------------
# Driving an import
# --------------------------------------------------------------------------------------------------------------

@dataclass
class ImportSummary:
    kind: str
    files: int = 0
    read: int = 0
    inserted: int = 0
    already_stored: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    identical: int = 0  # votes identical to an earlier row of their file: one vote (in ``already_stored``)
    replaced: int = 0  # rows that replaced a different stored row (--replace)
    notes: list[str] = field(default_factory=list)  # lines printed after the summary (A/B: the controls chosen)

    def line(self) -> str:
        skipped = sum(self.skipped.values()) + self.already_stored
        stored_before = self.already_stored - self.identical
        reasons = [f"{n:,} already stored" for n in [stored_before] if n]
        reasons += [f"{n:,} identical to an earlier row (one vote)" for n in [self.identical] if n]
        reasons += [f"{n:,} {why}" for why, n in sorted(self.skipped.items())]
        detail = f" ({'; '.join(reasons)})" if reasons else ""
        replaced = f"; replaced {self.replaced:,}" if self.replaced else ""
        return (f"{self.kind}: read {_count(self.read, 'row')} from {_count(self.files, 'file')}; "
                f"inserted {self.inserted:,}{replaced}; skipped {skipped:,}{detail}")

    def as_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "files": self.files, "read": self.read, "inserted": self.inserted,
               "already_stored": self.already_stored, "skipped": dict(self.skipped)}
        if self.kind == "votes":
            out |= {"identical": self.identical, "replaced": self.replaced}
        return out


def _count(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def iter_records(path: str | Path, parse: Callable[[dict[str, Any]], Any], *, skipped: Counter[str] | None = None,
                 on_progress: Callable[[int], None] | None = None) -> Iterator[Any]:
    """Parse every row of one file, attaching ``file:line`` to records and to errors."""
    for row in iter_rows(path, on_progress=on_progress):
        try:
            record = parse(row.data)
        except SkipRow as skip:
            if skipped is not None:
                skipped[skip.reason] += 1
            continue
        except InputError as exc:
            raise InputError(exc.message, file=str(path), line=row.line, field=exc.field) from None
        record.origin = f"{path}:{row.line}"
        yield record


def iter_generation_records(path: str | Path, **kwargs: Any) -> Iterator[GenerationRecord]:
    return iter_records(path, generation_from_row, **kwargs)


def iter_vote_records(path: str | Path, **kwargs: Any) -> Iterator[VoteRecord]:
    return iter_records(path, vote_from_row, **kwargs)


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items (itertools.batched arrives only in Python 3.12)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
