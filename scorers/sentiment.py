"""Sentiment: VADER's compound score in [-1, 1] (``nltk-vader-sentiment``, offline, English only).

Informational by default. It is shown next to helpfulness on purpose: a cheerful answer is not a helpful one
("Great question! 😊" scores high here and low there), and seeing both stops people from reading one as the
other.
"""

from __future__ import annotations

from collections.abc import Sequence

from scorers.base import ScoreItem, ScorerError, ScoreResult, ScorerSpec

MAX_CHARS = 20_000  # VADER is linear in length, but megabyte answers should not stall a batch


class VaderSentiment:
    name = "sentiment"
    higher_is_worse = False
    default_threshold = -0.5  # only matters if someone makes this gate blocking
    #: Pure Python (its token cache only remembers): ``sbs gate`` may fork it into workers.
    fork_safe = True

    def __init__(self, spec: ScorerSpec):
        from scorers.vader_fast import analyzer

        # The library's scores at a third of its cost (scorers/vader_fast.py; the library's own analyzer for a
        # version the shortcut was not checked against).
        self._analyzer = analyzer()
        self.max_chars = spec.option("max_chars", MAX_CHARS, int)

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        results = []
        for item in items:
            scores = self._analyzer.polarity_scores(item.output[: self.max_chars])
            results.append(ScoreResult(float(scores["compound"]),
                                       {k: scores[k] for k in ("neg", "neu", "pos")}))
        return results


def build(spec: ScorerSpec):
    if (spec.backend or "vader") != "vader":
        raise ScorerError(f"unknown sentiment backend {spec.backend!r} (choose from vader)", field="backend")
    return VaderSentiment(spec)
