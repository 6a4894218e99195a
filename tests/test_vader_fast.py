"""The sentiment gate's fast VADER (``scorers/vader_fast.py``) gives the library's own scores, to the last digit.

The reference is ``nltk-vader-sentiment``'s ``SentimentIntensityAnalyzer`` itself, on real answers and on
generated text built from what each shortcut skips or looks for: emoji (keycaps on digits, ``#`` and ``*``, skin
tones, joiners, variation selectors), lexicon and booster words, negations, "but", "kind of", multiword entries
and idioms, capitals, punctuation.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import vader
from scorers import vader_fast
from scorers.base import ScoreItem, ScorerSpec

REFERENCE = vader.SentimentIntensityAnalyzer()
FAST = vader_fast.analyzer()
DATA = Path(__file__).parent / "data"


WORDS = (["good", "GOOD", "bad", "BAD", "not", "isn't", "never", "so", "this", "no", "nor", "or", "but", "BUT",
          "kind", "of", "kind of", "no good", "sort", "very", "extremely", "least", "at", "without", "doubt",
          "love", "hate", "the", "a",
          "Great", "terrible", "ok!", "(super)", "#bad", ":)", ":),", "!!", "?", "don’t", "can't", "stand", "fed",
          "up", "break", "a", "leg", "yeah", "right", "die", "for", "to", "1", "2", "#", "*", "©", "®", "5️⃣", "#️⃣",
          "❤️", "👍🏽", "👨‍👩‍👧", "😁text", "🏻", "\ufe0f", "\u200d", "\ufe0e", "♥", "x2", "10%", "50/50"]
         + sorted(REFERENCE.booster)[:30] + sorted(REFERENCE.lexicon)[:30] + sorted(REFERENCE.lexicon)[::100])
#: Every multiword entry, idiom and special case (a few dozen): the windows the shortcuts look for.
PHRASES = sorted({*REFERENCE.multiword, *REFERENCE.idioms, *REFERENCE.special_cases})
SEPARATORS = [" "] * 6 + ["  ", "\n", "\t", "", ". ", "! ", ", "]
token_text = st.lists(st.tuples(st.one_of(st.sampled_from(WORDS), st.sampled_from(PHRASES)),
                                st.sampled_from(SEPARATORS)), max_size=60).map(
    lambda parts: "".join(w + s for w, s in parts))
any_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(token_text, token_text.map(str.upper), any_text, st.tuples(token_text, any_text).map("".join)))
@example("( '}{' ) is bad, I am fed up")
@example("GOOD BAD")
@example("no good")
@example("she is kind of nice")
@example("break a leg, kiss of death, the bomb")
@example("🏻 x \ufe0f 5\ufe0f\u20e3 #\u20e3")
def test_same_scores_as_the_library_on_generated_text(text: str) -> None:
    assert FAST.polarity_scores(text) == REFERENCE.polarity_scores(text)


def _text(row: dict) -> str:
    return row.get("output", row.get("text", ""))


def _answers() -> list[str]:
    texts = []
    for path in sorted((DATA / "alpaca_eval" / "outputs").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            texts += [json.loads(line)["output"] for line in fh]
    for name in ("gates_dev.jsonl", "gates_test.jsonl"):
        texts += [_text(json.loads(line)) for line in (DATA / name).read_text(encoding="utf-8").splitlines()
                  if line.strip()]
    return texts


def test_same_scores_as_the_library_on_real_answers() -> None:
    texts = _answers()
    assert len(texts) > 1000
    # Twice: the second pass reads the token cache the first one filled.
    for _ in range(2):
        assert [FAST.polarity_scores(t) for t in texts] == [REFERENCE.polarity_scores(t) for t in texts]


def test_the_token_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vader_fast, "TOKEN_CACHE", 10)
    fast = vader_fast.analyzer()
    text = " ".join(f"word{i} good BAD" for i in range(50))
    for _ in range(3):
        assert fast.polarity_scores(text) == REFERENCE.polarity_scores(text)
    assert len(fast._clean) <= 10 + len(set(text.split()))


def test_the_emoji_shortcut_visits_only_candidates() -> None:
    """Ordinary Latin, Cyrillic and punctuation are never visited; digits, ``#``, ``*`` and emoji are."""
    visited = FAST._emoji_next
    assert visited.search("Hello, world! Привет — “x” ‘y’ … (a) [b] {c} ~ é ü 'q' \"r\" @ $ % & + = / \\ ; :") is None
    for char in "0#*©®❤🏻\u200d\ufe0f":
        assert visited.search(f"a {char} b") is not None
    assert FAST.translate_emoji("plain text 1 2 3") == "plain text 1 2 3"
    assert FAST.translate_emoji("text \ufe0f with residue") == REFERENCE._emoji.translate("text \ufe0f with residue")


def test_another_library_version_gets_the_library_analyzer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vader, "__version__", "9.9.9")
    assert type(vader_fast.analyzer()) is vader.SentimentIntensityAnalyzer


def test_the_sentiment_gate_uses_the_fast_analyzer() -> None:
    from scorers.sentiment import VaderSentiment

    scorer = VaderSentiment(ScorerSpec())
    assert type(scorer._analyzer) is type(FAST)
    items = [ScoreItem("q", t) for t in _answers()[:200]]
    expected = [REFERENCE.polarity_scores(i.output)["compound"] for i in items]
    assert [r.score for r in scorer.score(items)] == expected
