"""Unicode-aware text utilities shared by the scorers: sentence splitting, word tokens, n-grams.

Why not ``str.split`` and ``.``: generations come in Russian, English, Chinese, Japanese and many other
languages side by side. Cyrillic words are ``\\w`` characters like Latin ones, but Chinese and Japanese are
written without spaces, so a "word" there is taken to be one ideograph / kana character (the usual choice of
character-level n-gram contamination checks for CJK). Sentence ends include the full-width CJK marks
(``。！？``), which are not followed by a space.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from itertools import islice

# Scripts written without spaces between words: each character is one token.
_CJK_RANGES = (
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\U00020000-\U0002ebef"  # CJK Extensions B-F
)
# A run of word characters that are not CJK, as one character class (``[^\W...]``: not a non-word character and
# not CJK); the first form, ``(?:(?![CJK])\w)+``, ran a look-ahead at every character and cost a third more.
_TOKEN_RE = re.compile(rf"[{_CJK_RANGES}]|[^\W{_CJK_RANGES}]+")
# ASCII text has no CJK, so its tokens are the runs of ``[A-Za-z0-9_]``: every other ASCII character becomes a
# space and ``str.split`` finds the same tokens as the regex, in C, at a fraction of its cost.
_ASCII_NON_WORD = str.maketrans({chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")})
_ASCII_TOKEN_RE = re.compile(r"[^ ]+")

# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) and white space, at a CJK full-width
# terminator (no space needed), or at a line break. Abbreviations will sometimes split a sentence in two; for
# per-sentence maxima that errs on the safe side (a shorter sentence is never less toxic than its parts).
#
# Written so that every match starts with one character class (a terminator, a CJK mark or a line break): the
# regex engine then jumps from candidate to candidate in C instead of trying three alternatives (two of them
# look-behinds) at every character, which cost ~90 ns a character, a third of the toxicity gate. A terminator
# not followed by white space ("3.14", "e.g") is a candidate that :func:`split_sentences` skips. The white space
# before a line break is not part of the match (it is stripped off the sentence anyway).
# tests/test_gates_speed.py checks the splits against the first, look-behind form on random text.
_TERMINATORS = ".!?\u2026\u203c\u2047-\u2049"
_CJK_TERMINATORS = "\u3002\uff01\uff1f\uff61"
_SENTENCE_END_RE = re.compile(
    rf"([{_TERMINATORS}{_CJK_TERMINATORS}\n])"
    rf"((?<=\n)\s*|(?<=[{_TERMINATORS}])[\"'\u201d\u2019\u00bb)\]]*\s+)?"
)

# Zero-width and bidi control characters: invisible, but they break tokens apart ("in\u200bsult").
_INVISIBLE_RE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")


def _casefold(text: str) -> str:
    """casefold, and ё → е: Russian text writes the two interchangeably (ещё / еще), matching must not care."""
    return text.casefold().replace("\u0451", "\u0435")


def normalize(text: str) -> str:
    """NFKC-normalise, drop invisible characters and casefold: what matching should compare."""
    return _casefold(_INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text)))


# Words that end with a full stop without ending the sentence. Single letters (initials: "Philip K. Dick",
# "Ф. М. Достоевский", "т. е.", "т. к.") are handled separately, as is a next piece starting in lower case.
ABBREVIATIONS = frozenset("""
mr mrs ms dr prof st jr sr vs etc e.g i.e eg ie cf al inc ltd co corp no nos fig figs approx vol vols pp ch sec
dept gen col capt lt sgt rev mt ft est jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k a.m p.m ph.d
op ed eds
г гг в вв см напр др пр тыс млн млрд руб коп ул им проф акад стр рис англ лат ср гл изд доц чл корр
""".split())
_LAST_WORD_RE = re.compile(r"(\w+(?:\.\w+)*)\.[\"'\u201d\u2019\u00bb)\]]*$")


def _continues(piece: str, following: str) -> bool:
    """True when the break after ``piece`` is not a sentence end: an abbreviation or initial before a full stop,
    or the next piece going on in lower case ("e.g. the", "т. е. быстро")."""
    if not piece.rstrip("\"'\u201d\u2019\u00bb)]").endswith("."):
        return False  # only a full stop can follow an abbreviation
    m = _LAST_WORD_RE.search(piece[-40:])  # the tail: a search over a long piece costs more than the split
    if m is None:
        return False
    word = m.group(1)
    if len(word) == 1 and word.isalpha():  # an initial or a one-letter abbreviation
        return True
    if word.casefold() in ABBREVIATIONS:
        return True
    first = following.lstrip("\"'\u201c\u2018\u00ab([")[:1]
    return first.isalpha() and first.islower()


def split_sentences(text: str, *, max_chars: int = 1000) -> list[str]:
    """Split text into sentences (non-empty, stripped). Over-long sentences are cut at ``max_chars``.

    A full stop after an abbreviation or an initial does not end a sentence, so "Philip K. Dick" stays whole
    (judged alone, "Dick" is an insult); nor does a list number ("1. Mix the flour"). Line breaks always end a
    sentence (lists, code, verse).
    """
    out: list[str] = []
    pending = ""
    pos = 0
    for m in _SENTENCE_END_RE.finditer(text):
        mark, sep = m.groups()
        if mark == "\n":  # a line break, with the white space after it
            end, line_break = m.start(), True
        elif sep is not None:  # a terminator, closing quotes or brackets, white space
            end, line_break = m.end(1), "\n" in sep
        elif mark in _CJK_MARKS:  # a CJK mark ends its sentence without a space
            end, line_break = m.end(), False
        else:  # a full stop inside a word or a number
            continue
        piece = text[pos:end].strip()
        pos = m.end()
        if piece:
            pending = f"{pending} {piece}" if pending else piece
        if not pending:
            continue
        if not line_break and (_LIST_MARKER_RE.match(pending) or _continues(pending, text[pos:pos + 4])):
            continue
        _emit(out, pending, max_chars)
        pending = ""
    piece = text[pos:].strip()
    if piece:
        pending = f"{pending} {piece}" if pending else piece
    if pending:
        _emit(out, pending, max_chars)
    return out


_CJK_MARKS = frozenset(_CJK_TERMINATORS)
_LIST_MARKER_RE = re.compile(r"^(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})\.$")


def _emit(out: list[str], piece: str, max_chars: int) -> None:
    while len(piece) > max_chars:
        out.append(piece[:max_chars])
        piece = piece[max_chars:]
    out.append(piece)


def context_windows(sentences: list[str], *, min_chars: int = 0) -> list[str]:
    """Group consecutive sentences into units of at least ``min_chars`` characters: a sentence that long stands
    alone, shorter ones are joined with their neighbours (the last short run joins the unit before it). A lone
    word ("Dick", "* Screw", "- Marinating the pig") is judged with what surrounds it, while a full sentence —
    one insult inside a long answer — is judged on its own and is not averaged away.

    A partition, not overlapping windows: every character is classified once, so the cost is that of bare
    sentences (gating must keep ≥ 1,000 generations/s)."""
    if min_chars <= 0:
        return list(sentences)
    units: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in sentences:
        if len(sentence) >= min_chars and current and size - 1 >= min_chars // 2:
            units.append(" ".join(current))  # a long sentence stays alone after a unit that has some context
            current, size = [], 0
        current.append(sentence)
        size += len(sentence) + 1  # with the joining space
        if size - 1 >= min_chars:
            units.append(" ".join(current))
            current, size = [], 0
    if current:
        if units and size < min_chars:
            units[-1] = f"{units[-1]} {' '.join(current)}"
        else:
            units.append(" ".join(current))
    return units


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; CJK characters are single tokens."""
    return _TOKEN_RE.findall(normalize(text))


def offsets_are_exact(text: str) -> bool:
    """True when tokenizing ``text`` as is gives the same tokens as after normalisation (almost all text)."""
    return text.isascii() or (_INVISIBLE_RE.search(text) is None and unicodedata.is_normalized("NFKC", text))


def raw_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """Tokens of ``text`` *before* case folding, with (start, end) offsets in the original string.

    Cheaper than :func:`token_spans` when only some tokens will be looked at: pass each one through
    :func:`fold` (or a cache keyed by the raw token) when it is needed.
    """
    if offsets_are_exact(text):
        for m in _TOKEN_RE.finditer(text):  # the common case: offsets are the regex's own
            yield m.group(), m.start(), m.end()
        return
    if _INVISIBLE_RE.search(text) is None:
        for m in _TOKEN_RE.finditer(text):
            yield unicodedata.normalize("NFKC", m.group()), m.start(), m.end()
        return
    # Drop invisible characters (so "in\u200bsult" is one token) but keep a map back to original offsets.
    kept = [i for i, ch in enumerate(text) if not _INVISIBLE_RE.match(ch)]
    cleaned = "".join(text[i] for i in kept)
    for m in _TOKEN_RE.finditer(cleaned):
        yield unicodedata.normalize("NFKC", m.group()), kept[m.start()], kept[m.end() - 1] + 1


class RawTokens:
    """The first ``limit`` tokens of a text exactly as :func:`raw_spans` yields them, as a list, with each one's
    (start, end) on demand. Why: the memorization report reads hundreds of source tokens per match but the
    offsets of only one or two; a generator that builds a tuple per token was half of that gate's time, while
    here the regex iterator, the slicing and the token strings are all taken in C (plain text, almost all)."""

    __slots__ = ("tokens", "_matches", "_kept", "_spaced")

    def __init__(self, text: str, limit: int | None = None):
        self._kept: list[int] | None = None
        self._spaced: str | None = None
        self._matches: list[re.Match[str]] = []
        # Plain ASCII (as far as the tokens asked for reach): split in C. A prefix of the text is enough when it
        # holds more than ``limit`` tokens, the last of which may be cut and is dropped.
        size = len(text) if limit is None else min(len(text), 16 * limit + 64)
        while text.isascii() if size >= len(text) else text[:size].isascii():
            spaced = text[:size].translate(_ASCII_NON_WORD)
            tokens = spaced.split()
            if size >= len(text) or (limit is not None and len(tokens) > limit):
                self.tokens: list[str] = tokens[:limit] if limit is not None else tokens
                self._spaced = spaced
                return
            size *= 2
        if offsets_are_exact(text):  # tokens and offsets are the regex's own
            self._matches = list(islice(_TOKEN_RE.finditer(text), limit))
            self.tokens = list(map(re.Match.group, self._matches))
            return
        if _INVISIBLE_RE.search(text) is not None:
            # Drop invisible characters (so "in\u200bsult" is one token) but keep a map back to original offsets.
            self._kept = kept = []
            start = 0
            for m in _INVISIBLE_RE.finditer(text):
                kept.extend(range(start, m.start()))
                start = m.end()
            kept.extend(range(start, len(text)))
            text = _INVISIBLE_RE.sub("", text)
        self._matches = list(islice(_TOKEN_RE.finditer(text), limit))
        self.tokens = list(map(_nfkc, map(re.Match.group, self._matches)))

    def __len__(self) -> int:
        return len(self.tokens)

    def span(self, i: int) -> tuple[int, int]:
        """(start, end) of token ``i`` in the text (negative ``i`` counts from the end)."""
        if i < 0:
            i += len(self.tokens)
        if not 0 <= i < len(self.tokens):
            raise IndexError(i)
        if self._spaced is not None:
            found = next(islice(_ASCII_TOKEN_RE.finditer(self._spaced), i, None))
            return found.span()
        start, end = self._matches[i].span()
        if self._kept is None:
            return start, end
        return self._kept[start], self._kept[end - 1] + 1


_nfkc = functools.partial(unicodedata.normalize, "NFKC")


def token_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """Case-folded tokens of ``text`` with their (start, end) character offsets in the *original* string."""
    for token, start, end in raw_spans(text):
        yield fold(token), start, end


def raw_tokens(text: str) -> list[str]:
    """Tokens for bulk indexing: NFKC once over the whole text, invisible characters dropped, *not* case-folded
    (callers fold per distinct token, which is far cheaper on a 100 MB corpus)."""
    if text.isascii():
        return text.translate(_ASCII_NON_WORD).split()
    return _TOKEN_RE.findall(_INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text)))


def fold(token: str) -> str:
    """The case-folded form of one token from :func:`raw_tokens` (equal to what :func:`token_spans` yields)."""
    return token.lower() if token.isascii() else _casefold(unicodedata.normalize("NFKC", token))


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
