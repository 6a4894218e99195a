"""Moderation (harmfulness): the highest category score of a moderation model, in [0, 1].

Backends:
* ``api`` (default): an OpenAI-compatible ``POST {base_url}/moderations`` endpoint (OpenAI's own, or a local
  server speaking the protocol). The key is read from ``$OPENAI_API_KEY`` (``api_key_env`` names another
  variable); ``base_url`` defaults to ``$OPENAI_BASE_URL`` or OpenAI. Requests are batched (``batch_size``
  inputs per call), sent ``concurrency`` at a time (default 16), throttled by ``requests_per_minute`` /
  ``tokens_per_minute`` and retried with backoff; rate limits (HTTP 429, ``Retry-After``) are waited out
  (:mod:`scorers.http`).
  ``categories`` restricts which of the 13 categories count: OpenAI's names, or the safety taxonomy's
  (:mod:`scorers.taxonomy`; a gate's declared ``categories`` arrive in those), each taken as every OpenAI
  category that maps to it (``self_harm`` → the three ``self-harm`` ones).
* ``hf``: a local multi-label Hugging Face classifier; every label counts unless ``labels`` says otherwise.

Both report in the safety taxonomy (:mod:`scorers.taxonomy`): the endpoint's labels are mapped through
:data:`~scorers.taxonomy.OPENAI_MODERATION` (``harassment/threatening`` → harassment, threat), a classifier's
through ``label_categories`` (else its label names, Jigsaw's heads or OpenAI's labels). ``details["categories"]``
holds the taxonomy categories flagged, ``details["labels"]`` the model's own flagged labels, and the scorer's
``categories`` what the gate covers (the union over the labels that count). The endpoint's languages are not
declared by the protocol: ``*`` unless the gate says ``languages = [...]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from scorers.base import ScoreItem, ScorerError, ScoreResult, ScorerSpec

CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence",
    "violence/graphic",
)


def _taxonomy(labels) -> list[str]:
    """OpenAI moderation labels → taxonomy categories, in the taxonomy's order, each once."""
    from scorers.taxonomy import CATEGORIES as ORDER, OPENAI_MODERATION

    found = {c for label in labels for c in OPENAI_MODERATION.get(label, ())}
    return [c for c in ORDER if c in found]


def _openai_names(names: Sequence[str]) -> list[str]:
    """OpenAI category names as given; a safety-taxonomy name becomes every OpenAI category mapped to it."""
    from scorers.taxonomy import OPENAI_MODERATION

    out: list[str] = []
    for name in names:
        mapped = [k for k, cats in OPENAI_MODERATION.items() if name in cats] if name not in CATEGORIES else [name]
        out.extend(m for m in (mapped or [name]) if m not in out)
    return out


class ApiModeration:
    name = "moderation"
    higher_is_worse = True
    default_threshold = 0.5

    def __init__(self, spec: ScorerSpec):
        from scorers.http import JsonClient

        self.client = JsonClient(spec)
        self.model = spec.model or "omni-moderation-latest"
        self.batch_size = spec.option("batch_size", 32, int)
        self.max_chars = spec.option("max_chars", 32_000, int)
        wanted = spec.option("categories", None, list)
        if wanted:
            wanted = _openai_names(wanted)
            unknown = [c for c in wanted if c not in CATEGORIES]
            if unknown:
                raise ScorerError(f"unknown categories {unknown} (known: {', '.join(CATEGORIES)})",
                                  field="categories")
        #: The endpoint's labels that count (``categories`` in the config).
        self.labels = tuple(wanted) if wanted else CATEGORIES
        #: The taxonomy categories this gate checks.
        self.categories = tuple(_taxonomy(self.labels))

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        from scorers.http import failure_summary

        batches = [items[start:start + self.batch_size] for start in range(0, len(items), self.batch_size)]
        answers = self.client.run("moderations", ({"model": self.model,
                                                   "input": [i.output[: self.max_chars] for i in batch]}
                                                  for batch in batches))
        failed = failure_summary(self.client.url("moderations"), answers, len(batches))
        if failed:
            raise ScorerError(failed)
        results: list[ScoreResult] = []
        for batch, answer in zip(batches, answers):
            rows = answer.data.get("results") if isinstance(answer.data, dict) else None
            if not isinstance(rows, list) or len(rows) != len(batch):
                raise ScorerError(f"moderation endpoint returned {len(rows) if isinstance(rows, list) else 'no'} "
                                  f"results for {len(batch)} inputs")
            for row in rows:
                scores = row.get("category_scores") or {}
                flagged = row.get("categories") or {}
                chosen = {c: float(scores.get(c, 0.0) or 0.0) for c in self.labels}
                top = max(chosen, key=chosen.get)
                labels = [c for c in self.labels if flagged.get(c)]
                results.append(ScoreResult(chosen[top], {
                    "flagged": bool(row.get("flagged")),
                    "categories": _taxonomy(labels),
                    "labels": labels,
                    "top_category": top,
                }))
        return results


class ClassifierModeration:
    """A local multi-label classifier; each counted label's categories from :func:`scorers.hf.label_categories`."""

    name = "moderation"
    higher_is_worse = True
    default_threshold = 0.5

    def __init__(self, spec: ScorerSpec):
        from scorers.hf import SequenceClassifier, label_categories, select_labels

        self.classifier = SequenceClassifier.from_spec(spec)
        self.columns = select_labels(self.classifier.labels, spec.option("labels", None, list), multi_label=True)
        self.flag_threshold = spec.option("flag_threshold", self.default_threshold, float)
        self.label_categories = label_categories(self.classifier.labels, self.columns,
                                                 spec.option("label_categories", None, dict), fallback=None)
        self.categories = tuple(dict.fromkeys(c for cats in self.label_categories.values() for c in cats))

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        from scorers.hf import category_scores

        if not items:
            return []
        probs = self.classifier.probabilities([i.output for i in items], multi_label=True)
        labels = self.classifier.labels
        results = []
        for row in probs:
            top = max(self.columns, key=lambda c: row[c])
            per = category_scores(row, self.label_categories)
            results.append(ScoreResult(float(row[top]), {
                "categories": [c for c, p in per.items() if p >= self.flag_threshold],
                "category_scores": {c: round(p, 4) for c, p in per.items()},
                "labels": [labels[c] for c in self.columns if row[c] >= self.flag_threshold],
                "top_category": labels[top]}))
        return results


BACKENDS = {"api": ApiModeration, "hf": ClassifierModeration}


def build(spec: ScorerSpec):
    backend = spec.backend or "api"
    if backend not in BACKENDS:
        raise ScorerError(f"unknown moderation backend {backend!r} (choose from {', '.join(BACKENDS)})",
                          field="backend")
    return BACKENDS[backend](spec)
