"""VADER's ``polarity_scores`` (``nltk-vader-sentiment``) with the same scores, at a fraction of the cost.

Why: the sentiment gate runs on every bare ``sbs gate``, and the library spends ~0.6 ms a generation on an
AlpacaEval answer, more than the blocking gates together (issue 22). Most of it is Python walking text that can
contain nothing of interest:

* the emoji translator walks the text character by character, in Python, as soon as one character starts some emoji
  — and the keycaps (``1️⃣``, ``#️⃣``) make every digit, ``#`` and ``*`` such a character. Here a regular expression
  jumps from candidate to candidate in C and the library's own rule is applied there (the longest key first, a
  left-over variation selector / joiner / skin tone dropped, the text returned untouched when no character starts
  an emoji);
* every token is stripped of punctuation against the lexicon: memoised per distinct token (a pure function of the
  token and the fixed lexicon);
* multiword entries ("can't stand") and sentiment-laden idioms ("break a leg") join every 2-, 3- and 4-token
  window to look it up: here only windows whose first token starts some entry of that length are joined, in the
  library's order, so the same entries match, in the same order (the sum of valences adds the same floats in the
  same order, to the same bits).

The rest is the library's: the per-token rules are its code, applied only to multiword matches and lexicon words
(each of its branches gives any other token 0.0), and every helper it calls
(``_modified_valence``, ``_but_check``, ``_score_valence``, ...) is inherited. tests/test_vader_fast.py checks the
scores against the library's own analyzer on real answers and on generated text (hypothesis), emoji, digits,
capitals, negations and idioms included. The shortcut applies to the library version it was checked against
(:data:`CHECKED_VERSION`); :func:`analyzer` returns the library's own analyzer for any other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import compress
from typing import Any

import vader
from vader import SentimentIntensityAnalyzer
from vader import constants as C
from vader.text import _EMOJI_RESIDUE, _clean_token, normalize_apostrophes

#: The ``nltk-vader-sentiment`` version whose ``polarity_scores`` this reproduces (tests/test_vader_fast.py).
CHECKED_VERSION = "1.0.0"
#: Distinct tokens remembered by the punctuation stripper (a few MB at most; the 6,440 AlpacaEval answers hold ~83k).
TOKEN_CACHE = 1 << 17


def analyzer() -> SentimentIntensityAnalyzer:
    """The fast analyzer for the checked library version, else the library's own (same interface)."""
    if getattr(vader, "__version__", None) == CHECKED_VERSION:
        return FastSentimentIntensityAnalyzer()
    return vader.SentimentIntensityAnalyzer()


def _ranges(chars: Iterable[str], gap: int = 64) -> re.Pattern[str]:
    """A character class of a few ranges that holds every one of ``chars`` (and some other characters: the
    caller checks what it found). A class of the 1,250 emoji first characters one by one costs a linear scan per
    character of text in ``re`` (astral characters rule out its bitmap), 1 µs a character. Below U+2100 (Latin,
    Cyrillic, general punctuation: what text is made of) the ranges are exact: ordinary characters are never
    visited."""
    points = sorted(map(ord, chars))
    spans = [[points[0], points[0]]]
    for p in points[1:]:
        if p - spans[-1][1] <= (gap if p >= 0x2100 else 1):
            spans[-1][1] = p
        else:
            spans.append([p, p])
    return re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in spans) + "]")


def _first_words(phrases: Iterable[str], length: int) -> frozenset[str]:
    """The first words of the ``length``-word phrases: a window can only match a phrase that starts with its
    first token (tokens hold no space)."""
    return frozenset(p.split(" ")[0] for p in phrases if p.count(" ") + 1 == length)


class _Text:
    """What the analyzer's helpers read of ``vader.text.SentiText``: tokens, lowered tokens, ``is_cap_diff``."""

    __slots__ = ("is_cap_diff", "lowered", "text", "tokens")


class FastSentimentIntensityAnalyzer(SentimentIntensityAnalyzer):
    """``SentimentIntensityAnalyzer`` whose ``polarity_scores`` skips the work that cannot change a score."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._emoji_index = self._emoji._index
        self._emoji_firsts = frozenset(self._emoji_index)
        self._residue = _EMOJI_RESIDUE
        self._emoji_next = _ranges(self._emoji_firsts | _EMOJI_RESIDUE)
        self._clean: dict[str, str] = {}  # raw token -> the library's cleaned token
        self._lower: dict[str, str] = {}  # raw token -> the cleaned token in lower case
        self._multiword_firsts = [(n, _first_words(self.multiword, n)) for n in self._multiword_lengths]
        self._idiom_firsts = [(n, _first_words(self.idioms, n)) for n in (2, 3, 4)]

    def translate_emoji(self, text: str) -> str:
        """``EmojiTranslator.translate``: only the characters that start an emoji or are its residue are
        visited (in the library, every character of a text holding one)."""
        if self._emoji_firsts.isdisjoint(text):
            return text
        index, search = self._emoji_index, self._emoji_next.search
        out: list[str] = []
        pos = 0
        while (m := search(text, pos)) is not None:
            i = m.start()
            out.append(text[pos:i])
            char = text[i]
            candidates = index.get(char)
            pos = i + 1
            if candidates is None:
                if char not in self._residue:  # in the class's ranges, not an emoji's start: kept
                    out.append(char)
                continue
            for key, description in candidates:
                if text.startswith(key, i):
                    out.extend((" ", description, " "))
                    pos = i + len(key)
                    break
            else:
                out.append(char)
        out.append(text[pos:])
        return "".join(out).strip()

    def sentitext(self, text: str) -> _Text:
        """``vader.text.SentiText(text, lexicon_keys)``, each distinct token cleaned (and lowered) once."""
        raw = text.split()
        clean, lower = self._clean, self._lower
        tokens = list(map(clean.get, raw))
        if None in tokens:  # tokens not seen yet
            if len(clean) > TOKEN_CACHE:
                clean.clear()
                lower.clear()
            for token in raw:
                if token not in clean:
                    clean[token] = cleaned = _clean_token(token, self._lexicon_keys)
                    lower[token] = cleaned.lower()
            tokens = list(map(clean.__getitem__, raw))
        st = _Text()
        st.text, st.tokens, st.lowered = text, tokens, list(map(lower.__getitem__, raw))
        allcap = sum(map(str.isupper, tokens))
        st.is_cap_diff = 0 < len(tokens) - allcap < len(tokens)
        return st

    def _match_multiword(self, lowered: list[str]) -> tuple[dict[int, float], frozenset[int]]:
        if not self.multiword:
            return {}, frozenset()
        forced: dict[int, float] = {}
        consumed: set[int] = set()
        multiword = self.multiword
        for n, firsts in self._multiword_firsts:
            if firsts.isdisjoint(lowered):
                continue
            for i in [i for i, w in enumerate(lowered[: len(lowered) - n + 1]) if w in firsts]:
                if i in forced or any(j in consumed or j in forced for j in range(i, i + n)):
                    continue
                phrase = " ".join(lowered[i: i + n])
                if phrase in multiword:
                    forced[i] = multiword[phrase]
                    consumed.update(range(i + 1, i + n))
        return forced, frozenset(consumed)

    def _laden_idioms(self, lowered: list[str]) -> list[float]:
        if not self.idioms:
            return []
        found: list[float] = []
        idioms = self.idioms
        for length, firsts in self._idiom_firsts:
            if firsts.isdisjoint(lowered):
                continue
            for i, w in enumerate(lowered[: len(lowered) - length + 1]):
                if w in firsts:
                    phrase = " ".join(lowered[i: i + length])
                    if phrase in idioms:
                        found.append(idioms[phrase])
        return found

    def polarity_scores(self, text: str) -> dict[str, float]:
        """The library's ``polarity_scores``, step for step (its per-token rules, names bound locally)."""
        if not isinstance(text, str):
            raise TypeError(f"polarity_scores() expects a str, got {type(text).__name__}")
        text = self.translate_emoji(normalize_apostrophes(text))
        sentitext = self.sentitext(text)
        tokens, lowered = sentitext.tokens, sentitext.lowered
        forced, consumed = self._match_multiword(lowered)
        booster, lexicon, modified = self.booster, self.lexicon, self._modified_valence
        n = len(lowered)
        # Every branch of the library's per-token rules gives 0.0 to a token that is neither a multiword match
        # nor a lexicon word: only those are visited (the rules are pure, so the order does not matter).
        sentiments = [0.0] * n
        for i in sorted(set(forced).union(compress(range(n), map(lexicon.__contains__, lowered)))):
            item = lowered[i]
            if i in consumed:
                continue
            if i in forced:
                sentiments[i] = modified(forced[i], sentitext, i)
            elif item in booster or (item == "kind" and i + 1 < n and lowered[i + 1] == "of"):
                continue
            else:  # a lexicon word
                valence = lexicon[item]
                if item == "no" and i + 1 < n and lowered[i + 1] in lexicon:
                    valence = 0.0
                if self._no_precedes(lowered, i):
                    valence = lexicon[item] * C.N_SCALAR
                if tokens[i].isupper() and sentitext.is_cap_diff:
                    if valence > 0:
                        valence += C.C_INCR
                    elif valence < 0:
                        valence -= C.C_INCR
                sentiments[i] = modified(valence, sentitext, i)
        sentiments = self._but_check(lowered, sentiments)
        return self._score_valence(sentiments + self._laden_idioms(lowered), text)
