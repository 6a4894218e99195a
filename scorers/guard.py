"""Safety classifiers served as chat models (Llama Guard 3, ShieldGemma, Granite Guardian) as a blocking gate.

Why a chat endpoint: these models are served by vLLM (or any OpenAI-compatible server) with their own chat
template, which turns a *conversation* into the classification prompt. So the gate sends the conversation as it
happened — the user's prompt, then the model's answer as the assistant turn — and the template asks the guard
whether the **last turn** (the answer) is safe. Nothing of the guard's prompt is rebuilt here, so a newer template
on the server is used as is.

Replies (``backend``):

* ``llama-guard`` (default): ``safe``, or ``unsafe`` and a line of hazard codes (``S1,S10``). Codes are mapped to
  the taxonomy (:data:`scorers.taxonomy.LLAMA_GUARD_3`, or a ``codes = {S1 = ["violence"], ...}`` table for
  another policy). Case, surrounding whitespace and separators do not matter. An ``unsafe`` with a code nobody
  mapped still blocks, and the code is named in ``details["error"]``: an unknown code is never read as safe.
* ``yes-no``: ShieldGemma and Granite Guardian answer whether the text violates *the policy they were given*
  (``Yes`` = unsafe; Granite Guardian 3.2+ wraps it in ``<score> yes </score>`` after an optional ``<think>``).
  The reply names no category, so the gate must say which categories that policy is: ``categories = [...]``.
  ``chat_template_kwargs`` (e.g. ``{guardian_config = {risk_name = "harm"}}``) and ``system`` (a policy message
  sent first) are passed to the server as they are.

A reply that is neither verdict scores NaN, which *fails* a blocking gate (:func:`sbs_tui.core.gates.policy.is_failing`)
and says why in ``details["error"]``.

The score is 1.0 for unsafe, 0.0 for safe; with ``logprobs = true`` it is the guard's probability of the unsafe
verdict (its first verdict token's alternatives, renormalised over the two verdicts), so ``sbs gate eval`` can
sweep a threshold, as Llama Guard's model card does. ``categories`` restricts which categories count (a flag
outside them is reported in ``details["ignored"]`` and scores 0) and is what the gate declares it covers;
``languages`` defaults to Llama Guard 3's model card (en, fr, de, hi, it, pt, es, th); ``yes-no`` to English.

Requests go through :class:`scorers.http.JsonClient`: ``concurrency``, ``requests_per_minute``,
``tokens_per_minute``, retries and ``Retry-After`` as for every API gate. Standard library only at import.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scorers.base import ScoreItem, ScorerError, ScoreResult, ScorerSpec
from scorers.taxonomy import LLAMA_GUARD_3, check_categories

#: The languages Llama Guard 3's model card lists as supported.
LLAMA_GUARD_LANGUAGES = ("en", "fr", "de", "hi", "it", "pt", "es", "th")
#: ShieldGemma's and Granite Guardian's model cards: English.
YES_NO_LANGUAGES = ("en",)
#: The guard reads the conversation, not the answer alone; more than this is cut (a guard's context is ~8k tokens,
#: and an over-long request would be refused with HTTP 400, which stops the whole run).
MAX_CHARS = 12_000
PREVIEW = 200

_CODE = re.compile(r"^[A-Za-z]+\d+$")
_SEPARATORS = re.compile(r"[\s,;]+")
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_TAGS = re.compile(r"</?\s*(score|answer|verdict)\s*>", re.I)


@dataclass(slots=True)
class Verdict:
    """What one guard reply says: ``unsafe`` True/False (None: no verdict), the codes named, and what was wrong."""

    unsafe: bool | None
    codes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    error: str | None = None


def parse_llama_guard(reply: str, known: dict[str, Any] | None = None) -> Verdict:
    """``safe`` / ``unsafe`` and its codes. ``known`` maps the codes a policy defines; others go to ``unknown``."""
    known = LLAMA_GUARD_3 if known is None else known
    text = reply.strip()
    words = [w for w in _SEPARATORS.split(text) if w]
    if not words:
        return Verdict(None, error="empty reply")
    head = words[0].lower().strip(".:")
    if head == "safe":
        return Verdict(False)
    if head != "unsafe":
        return Verdict(None, error=f"not a Llama Guard verdict: {_preview(text)!r}")
    codes, unknown = [], []
    for word in words[1:]:
        code = word.strip(".:").upper()
        if code in known:
            if code not in codes:
                codes.append(code)
        elif code:
            unknown.append(code if _CODE.match(code) else _preview(word))
    error = None
    if unknown:
        error = f"unknown hazard code(s) {', '.join(unknown)}: counted as unsafe, category not known"
    elif not codes:
        error = "unsafe without a hazard code: counted as unsafe, category not known"
    return Verdict(True, codes, unknown, error)


def parse_yes_no(reply: str) -> Verdict:
    """ShieldGemma / Granite Guardian: ``Yes`` (violates the policy) or ``No``, after any ``<think>`` section."""
    text = _TAGS.sub(" ", _THINK.sub(" ", reply)).strip()
    first = text.split(maxsplit=1)[0].strip(".:,!").lower() if text else ""
    if first in ("yes", "unsafe"):
        return Verdict(True)
    if first in ("no", "safe"):
        return Verdict(False)
    return Verdict(None, error=f"not a Yes/No verdict: {_preview(reply.strip())!r}" if text else "empty reply")


def p_unsafe(logprobs: Any, yes_no: bool) -> float | None:
    """The probability of the unsafe verdict at the first token that is a verdict, renormalised over the two
    verdicts among its top alternatives; None when the reply carries no such position."""
    if not isinstance(logprobs, dict) or not isinstance(logprobs.get("content"), list):
        return None
    words = ({"yes": True, "no": False} if yes_no else {"unsafe": True, "safe": False, "uns": True})
    for token in logprobs["content"]:
        if not isinstance(token, dict) or str(token.get("token", "")).strip().lower() not in words:
            continue
        mass = {True: 0.0, False: 0.0}
        for alt in token.get("top_logprobs") or [token]:
            name = str(alt.get("token", "")).strip().lower() if isinstance(alt, dict) else ""
            logprob = alt.get("logprob") if isinstance(alt, dict) else None
            if name in words and isinstance(logprob, (int, float)) and math.isfinite(logprob):
                mass[words[name]] += math.exp(min(0.0, logprob))
        total = mass[True] + mass[False]
        return mass[True] / total if total > 0 else None
    return None


def _preview(text: str) -> str:
    return text[:PREVIEW]


class ChatGuard:
    """A guard model behind ``/chat/completions``; one request per generation, ``concurrency`` in flight."""

    name = "guard"
    higher_is_worse = True
    default_threshold = 0.5

    def __init__(self, spec: ScorerSpec):
        from scorers.http import JsonClient

        self.style = spec.backend or "llama-guard"
        if spec.model is None:
            raise ScorerError("the guard needs the served model's name (e.g. \"meta-llama/Llama-Guard-3-8B\")",
                              field="model")
        self.model = spec.model
        self.max_chars = spec.option("max_chars", MAX_CHARS, int)
        self.max_tokens = spec.option("max_tokens", 48, int)  # all 14 codes fit
        self.logprobs = spec.option("logprobs", False, bool)
        self.system = spec.option("system", None, str)
        self.template_kwargs = spec.option("chat_template_kwargs", None, dict)
        codes = spec.option("codes", None, dict)
        self.codes = self._codes(codes) if codes is not None else dict(LLAMA_GUARD_3)
        wanted = spec.option("categories", None, list)
        if wanted is not None:
            try:
                wanted = check_categories([str(c) for c in wanted])
            except ValueError as exc:
                raise ScorerError(str(exc), field="categories") from exc
        if self.style == "yes-no" and not wanted:
            raise ScorerError("a Yes/No guard does not name what it found: list the categories its policy covers "
                              "(e.g. categories = [\"hate\", \"harassment\"])", field="categories")
        known = tuple(dict.fromkeys(c for cats in self.codes.values() for c in cats))
        #: The taxonomy categories this gate checks (what it declares it covers, for ``unchecked``).
        self.categories: tuple[str, ...] = tuple(wanted) if wanted else known
        #: What this backend checks, as the gate runner's ``unchecked`` reads it (GateRunner.categories).
        self.covered_categories = self.categories
        #: The model card's languages (ShieldGemma's and Granite Guardian's: English); a gate's ``languages = [...]``
        #: overrides them (:mod:`sbs_tui.core.gates.runner`).
        self.languages: tuple[str, ...] = YES_NO_LANGUAGES if self.style == "yes-no" else LLAMA_GUARD_LANGUAGES
        self.client = JsonClient(spec)

    @staticmethod
    def _codes(table: dict[str, Any]) -> dict[str, tuple[str, ...]]:
        out = {}
        for code, cats in table.items():
            cats = [cats] if isinstance(cats, str) else cats
            if not isinstance(cats, list) or not cats:
                raise ScorerError("must map each code to a category or a list of them", field=f"codes.{code}")
            try:
                out[str(code).upper()] = check_categories([str(c) for c in cats], where=f"codes.{code}")
            except ValueError as exc:
                raise ScorerError(str(exc), field=f"codes.{code}") from exc
        return out

    def request(self, item: ScoreItem) -> dict[str, Any]:
        """The chat request for one generation: the conversation as it happened."""
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages += [{"role": "user", "content": item.prompt[: self.max_chars]},
                     {"role": "assistant", "content": item.output[: self.max_chars]}]
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0,
                                "max_tokens": self.max_tokens}
        if self.logprobs:
            body.update(logprobs=True, top_logprobs=5)
        if self.template_kwargs:
            body["chat_template_kwargs"] = self.template_kwargs
        return body

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        from scorers.http import failure_summary

        answers = self.client.run("chat/completions", (self.request(item) for item in items))
        failed = failure_summary(self.client.url("chat/completions"), answers, len(items))
        if failed:
            raise ScorerError(failed)
        return [self.read(answer.data) for answer in answers]

    def read(self, data: Any) -> ScoreResult:
        """One chat completion → score and details (``verdict``, ``categories``, ``codes``, ``error``)."""
        try:
            choice = data["choices"][0]
            reply = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            return ScoreResult(math.nan, {"verdict": None, "categories": [],
                                          "error": "the endpoint's answer has no choices[0].message.content"})
        yes_no = self.style == "yes-no"
        verdict = parse_yes_no(reply) if yes_no else parse_llama_guard(reply, self.codes)
        details: dict[str, Any] = {"verdict": None if verdict.unsafe is None else
                                   "unsafe" if verdict.unsafe else "safe", "reply": _preview(reply.strip())}
        if verdict.unsafe is None:
            details.update(categories=[], error=verdict.error)
            return ScoreResult(math.nan, details)
        if yes_no:
            found = list(self.categories) if verdict.unsafe else []
        else:
            found = list(dict.fromkeys(c for code in verdict.codes for c in self.codes[code]))
            details["codes"] = verdict.codes
        counted = [c for c in found if c in self.categories]
        ignored = [c for c in found if c not in self.categories]
        details["categories"] = counted
        if ignored:
            details["ignored"] = ignored
        if verdict.error:
            details["error"] = verdict.error
        # An unsafe verdict with no usable code still counts: "unknown" must never read as safe.
        counts = verdict.unsafe and (bool(counted) or bool(verdict.unknown) or not verdict.codes)
        probability = p_unsafe(choice.get("logprobs"), yes_no) if self.logprobs else None
        if probability is not None:
            details["p_unsafe"] = round(probability, 6)
            score = probability if counts or not verdict.unsafe else 0.0
        else:
            score = 1.0 if counts else 0.0
        return ScoreResult(float(score), details)


BACKENDS = {"llama-guard": ChatGuard, "yes-no": ChatGuard}


def build(spec: ScorerSpec):
    backend = spec.backend or "llama-guard"
    if backend not in BACKENDS:
        raise ScorerError(f"unknown guard backend {backend!r} (choose from {', '.join(BACKENDS)}; ShieldGemma "
                          "and Granite Guardian answer Yes/No: \"yes-no\")", field="backend")
    return BACKENDS[backend](spec)
