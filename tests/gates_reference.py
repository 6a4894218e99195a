"""Straightforward reference implementations of the gate hot paths, frozen as they were before the speed work
(issue 10's throughput goal), so tests can check that the fast paths decide and score *exactly* alike.

Each function here is the obvious, per-item version: one regex scan per sentence end, scikit-learn's own
``TfidfVectorizer.transform``, ``raw_spans`` generators for the memorization report, a character loop for
invisible characters. They are slow on purpose; never import this module from product code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import islice
from typing import Any

import numpy as np

from scorers import lexicon, memorization, toxicity
from scorers.base import ScoreItem, ScoreResult
from scorers.text import _continues, _emit, _LIST_MARKER_RE, normalize, raw_spans

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
