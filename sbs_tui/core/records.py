"""Normalised records: what every importer produces and the store consumes.

Why a module of its own: the input formats are many (contract JSONL/CSV, AlpacaEval records, the annotator
app's own votes) but the store must see one shape. Identity rules live here too, because idempotent import
depends on them: the same prompt text always gets the same ``prompt_id``; the same vote always gets the same
``uid``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

WINNERS = ("model_a", "model_b", "tie", "both_bad")


@lru_cache(maxsize=65_536)  # votes repeat their prompts many times over
def prompt_id_for(text: str) -> str:
    """A stable id from the prompt text, so the same prompt from different files is one prompt.

    The text is NFC-normalised and stripped of surrounding white space first: files written by different tools
    differ in exactly those ways for what is the same instruction.
    """
    canonical = unicodedata.normalize("NFC", text).strip()
    return "p_" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def text_sha(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


# Tuple layouts of GenerationRecord.as_row() / VoteRecord.as_row(); the store indexes them by position.
GenerationRow = tuple[Any, ...]  # prompt_id, prompt, model, output, output_sha, category, reference, meta, origin
VoteRow = tuple[Any, ...]  # uid, prompt_id, prompt, model_a, model_b, winner, weight, score_b, annotator,
#                            annotator_kind, shown_left, ts, rationale, criteria, flagged, flag_reason,
#                            output_a, output_b, pair_id, meta, uid_given, origin


# One encoder, built once: json.dumps with non-default options builds a new encoder on every call, which was
# a third of the cost of a vote's uid. Same options as ever, so uids are unchanged.
_UID_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)
_META_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, allow_nan=False)
# _UID_ENCODER's C encoder, built once: ``encode`` builds one (and a dict for cycle checks) on every call, half the
# cost of a uid. Same options (no cycle check: a parsed row holds none), so the same text and uids (a test).
_UID_C_ENCODER = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _UID_ENCODER.default, json.encoder.encode_basestring, None,
    _UID_ENCODER.key_separator, _UID_ENCODER.item_separator, True, False, True,
) if json.encoder.c_make_encoder is not None else None  # type: ignore[attr-defined]


def uid_digest(payload: list[Any]) -> str:
    """The SHA-1 (hex) of a vote's content payload as ``_UID_ENCODER`` writes it."""
    text = "".join(_UID_C_ENCODER(payload, 0)) if _UID_C_ENCODER is not None else _UID_ENCODER.encode(payload)
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


# Before 96-bit uids (commit 19acfa1) a content uid was the whole SHA-1: 'v_' + 40 hex digits. Today's uid of the
# same vote is its first 26 characters, so an old uid (in a database, or as vote_id in an old export) maps onto
# today's without re-reading the vote.
_LEGACY_UID = re.compile(r"v_[0-9a-f]{40}")


def current_uid(uid: str) -> str:
    """Today's form of a vote uid: a legacy full-length content uid is shortened; anything else is kept."""
    return uid[:26] if len(uid) == 42 and _LEGACY_UID.fullmatch(uid) else uid


def json_or_none(value: Any) -> str | None:
    """Objects are stored as JSON text; an empty object is stored as NULL.

    NaN and ±Infinity (which Python's and pandas' JSON writers emit, and an overflowing number like ``1e999``
    becomes) are not JSON: stored as-is they made ``meta`` unreadable by every JSON parser but Python's. They
    are stored as ``null``, the value JSON has for "no number here"."""
    if value is None or value == {}:
        return None
    try:
        return _META_ENCODER.encode(value)
    except ValueError:  # out-of-range float: rare, so the check costs nothing on ordinary rows
        return _META_ENCODER.encode(_finite_or_none(value))


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def score_b(winner: str, weight: float) -> float:
    """Credit to model_b in [0, 1]: what ranking uses. Ties and both-bad are half a win each."""
    if winner == "model_b":
        return weight
    if winner == "model_a":
        return 1.0 - weight
    return 0.5


@dataclass(slots=True)
class GenerationRecord:
    prompt_id: str
    prompt: str
    model: str
    output: str
    category: str | None = None
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None  # "file:line", for error messages

    @property
    def output_sha(self) -> str:
        return text_sha(self.output)

    def as_row(self) -> GenerationRow:
        """Plain tuple form: what the store writes, and what a parsing subprocess sends (cheap to pickle)."""
        return (self.prompt_id, self.prompt, self.model, self.output, self.output_sha, self.category,
                self.reference, json_or_none(self.meta), self.origin)


@dataclass(slots=True)
class VoteRecord:
    """One judgement of a pair. ``weight`` is the share of the win credited to ``winner`` (0.5–1]; the rest goes
    to the other model. Plain votes have weight 1; AlpacaEval's probability-weighted preferences do not."""

    prompt_id: str
    prompt: str | None
    model_a: str
    model_b: str
    winner: str
    annotator: str
    weight: float = 1.0
    annotator_kind: str = "human"
    shown_left: str | None = None  # 'model_a' | 'model_b'
    ts: str | None = None
    rationale: str | None = None
    criteria: dict[str, Any] | None = None
    flagged: bool = False
    flag_reason: str | None = None
    output_a: str | None = None
    output_b: str | None = None
    pair_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    uid: str = ""
    origin: str | None = None
    uid_given: bool = False  # the uid came from the input (a vote_id), not from the content

    def __post_init__(self) -> None:
        if not self.uid:
            self.uid = self.content_uid()
        else:
            self.uid_given = True

    @property
    def score_b(self) -> float:
        return score_b(self.winner, self.weight)

    def as_row(self) -> VoteRow:
        """Plain tuple form: what the store writes, and what a parsing subprocess sends (cheap to pickle)."""
        return (self.uid, self.prompt_id, self.prompt, self.model_a, self.model_b, self.winner, self.weight,
                self.score_b, self.annotator, self.annotator_kind, self.shown_left, self.ts, self.rationale,
                json_or_none(self.criteria), int(self.flagged), self.flag_reason, self.output_a, self.output_b,
                self.pair_id, json_or_none(self.meta), self.uid_given, self.origin)

    def content_uid(self) -> str:
        """Identity from content, for a row without ``vote_id``: an identical row is the same vote, whether it
        comes again in the same file, in another file or in an export (so importing twice stores it once)."""
        # 96 bits: collisions stay below 1e-11 even at a billion votes, and the unique index stays small.
        return "v_" + self.content_digest()[:24]

    def content_digest(self) -> str:
        """The SHA-1 (hex) of the vote's content; uids before 96 bits were 'v_' + all of it."""
        payload = [
            self.prompt_id, self.model_a, self.model_b, self.winner, repr(float(self.weight)), self.annotator,
            self.shown_left, self.ts, self.rationale, self.criteria, self.flagged, self.flag_reason,
            self.output_a, self.output_b, self.meta,
        ]
        return uid_digest(payload)
