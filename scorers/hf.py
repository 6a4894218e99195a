"""Loading and batching Hugging Face sequence classifiers (toxicity, moderation, reward models).

One loader for every classifier-shaped backend, so they all share the same rules: load from a local folder or a
hub id (``HF_HUB_OFFLINE=1`` is honoured by transformers itself), pick CUDA when it is there, score in batches
sorted by length (padding a batch to its longest item wastes far less when lengths are similar), never
compute gradients. torch and transformers are imported here, so import this module lazily.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from scorers.base import ScorerError, pick_device


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Load a model without transformers' and the hub's progress bars ("Loading weights 41/41") and notes on
    stderr: ``sbs score`` prints one summary line there and a bar of its own, and a pipeline's log should not
    fill with a library's. Errors still raise. Settings are restored afterwards (other code may want them)."""
    import warnings

    from transformers.utils import logging as hf_logging

    try:
        from huggingface_hub import utils as hub
    except ImportError:  # pragma: no cover - transformers depends on it
        hub = None
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hub_bars = hub is not None and not hub.are_progress_bars_disabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if hub_bars:
        hub.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
        if hub_bars:
            hub.enable_progress_bars()


class SequenceClassifier:
    """A text (or text-pair) classifier with named labels; returns raw logits as a numpy array."""

    def __init__(self, model: str, *, device: str | None = None, batch_size: int = 32, max_length: int = 512):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if not model:
            raise ScorerError("this backend needs a model (a local folder or a hub id)", field="model")
        looks_local = model.startswith((".", "/", "~")) or Path(model).expanduser().exists()
        if looks_local and not Path(model).expanduser().is_dir():
            raise ScorerError(f"model folder not found: {model}", field="model")
        source = str(Path(model).expanduser()) if looks_local else model
        try:
            with quiet_loading():
                self.tokenizer = AutoTokenizer.from_pretrained(source)
                self.model = AutoModelForSequenceClassification.from_pretrained(source)
        except (OSError, ValueError) as exc:
            raise ScorerError(f"cannot load classifier {model!r}: {exc}", field="model") from exc
        self.device = pick_device(device)
        self.model.to(self.device).eval()
        self._torch = torch
        self.batch_size = batch_size
        self.max_length = min(max_length, getattr(self.tokenizer, "model_max_length", max_length) or max_length)
        config = self.model.config
        self.labels = [str(config.id2label.get(i, f"LABEL_{i}")) for i in range(config.num_labels)]
        self.multi_label = config.problem_type == "multi_label_classification"

    @classmethod
    def from_spec(cls, spec: Any, *, batch_size: int = 32) -> SequenceClassifier:
        """Build from a gate's configuration (``model``, ``device``, ``batch_size``, ``max_length`` options)."""
        return cls(spec.model or "", device=spec.option("device", None, str),
                   batch_size=spec.option("batch_size", batch_size, int),
                   max_length=spec.option("max_length", 512, int))

    def logits(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> np.ndarray:
        """Logits for each text (or (text, pair) pair), shape (len(texts), num_labels)."""
        torch = self._torch
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]) + (len(pairs[i]) if pairs else 0))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                first = [texts[i] for i in idx]
                second = [pairs[i] for i in idx] if pairs is not None else None
                enc = self.tokenizer(first, second, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="pt").to(self.device)
                out[idx] = self.model(**enc).logits.float().cpu().numpy()
        return out

    def probabilities(self, texts: Sequence[str], *, multi_label: bool | None = None) -> np.ndarray:
        """Sigmoid per label for multi-label models (labels are independent), softmax otherwise."""
        logits = self.logits(texts)
        if self.multi_label if multi_label is None else multi_label:
            return 1.0 / (1.0 + np.exp(-logits))
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=1, keepdims=True)


_BENIGN_WORDS = frozenset({"neutral", "safe", "clean", "ok", "normal", "none", "acceptable", "benign"})


def select_labels(labels: Sequence[str], wanted: Sequence[str] | None, *, multi_label: bool) -> list[int]:
    """Which label columns count as "bad".

    Explicit ``labels = [...]`` in the config wins (and must exist in the model). Otherwise: for multi-label
    models (Detoxify style: toxicity, severe_toxicity, obscene, threat, insult, identity_attack, ...) every label
    that does not look benign; for single-label models the labels that do not look benign, falling back to the
    last class (the ``LABEL_1`` = positive convention) when the names say nothing.
    """
    if wanted:
        by_name = {name.lower(): i for i, name in enumerate(labels)}
        picked = []
        for name in wanted:
            if name.lower() not in by_name:
                raise ScorerError(f"label {name!r} is not one of the model's labels {list(labels)}",
                                  field="labels")
            picked.append(by_name[name.lower()])
        return picked

    def benign(name: str) -> bool:
        low = name.lower().replace("-", "_").replace(" ", "_")
        return low in _BENIGN_WORDS or low.startswith(("non_", "not_", "non", "no_"))

    generic = all(name.upper().startswith("LABEL_") for name in labels)
    if generic:
        return list(range(len(labels))) if multi_label else [len(labels) - 1]
    picked = [i for i, name in enumerate(labels) if not benign(name)]
    if not picked:
        raise ScorerError(f"no label of {list(labels)} looks harmful; set labels = [...]", field="labels")
    return picked


def combine(probs: np.ndarray, columns: Sequence[int], *, multi_label: bool) -> np.ndarray:
    """One score per row: the max over independent (multi-label) labels, the summed mass for softmax."""
    chosen = probs[:, list(columns)]
    return chosen.max(axis=1) if multi_label else chosen.sum(axis=1)


def label_details(labels: Sequence[str], row: np.ndarray) -> dict[str, Any]:
    return {labels[i]: round(float(row[i]), 4) for i in range(len(labels))}


#: What a classifier's label means when the config does not say: a taxonomy name as it is, then a Jigsaw head
#: (Detoxify), then an OpenAI moderation label. Looked up lower-case, ``-``/space read as ``_`` for Jigsaw.
def default_label_categories(label: str) -> tuple[str, ...] | None:
    from scorers.taxonomy import CATEGORIES, JIGSAW, OPENAI_MODERATION

    low = label.lower().strip()
    if low in CATEGORIES:
        return (low,)
    under = low.replace("-", "_").replace(" ", "_")
    return JIGSAW.get(under) or OPENAI_MODERATION.get(low)


def label_categories(labels: Sequence[str], columns: Sequence[int], configured: dict[str, Any] | None, *,
                     fallback: tuple[str, ...] | None) -> dict[int, tuple[str, ...]]:
    """Per counted label column, the taxonomy categories it detects.

    ``configured`` (the gate's ``label_categories = {toxic = ["insult", "obscenity"], ...}``) wins and must name
    the model's labels; then :func:`default_label_categories`; then, for an anonymous ``LABEL_k`` only,
    ``fallback`` (a toxicity model's ``LABEL_1`` means toxic language: insult and obscenity). A named label with
    none of these (``male``, an identity column of Jigsaw's bias data) is an error: a gate must not claim coverage
    it cannot name, and ``labels = [...]`` or ``label_categories`` settles it.
    """
    from scorers.taxonomy import check_categories

    by_name = {name.lower(): i for i, name in enumerate(labels)}
    explicit: dict[int, tuple[str, ...]] = {}
    for name, cats in (configured or {}).items():
        where = f"label_categories.{name}"
        if name.lower() not in by_name:
            raise ScorerError(f"{name!r} is not one of the model's labels {list(labels)}", field=where)
        cats = [cats] if isinstance(cats, str) else cats
        if not isinstance(cats, list) or not cats:
            raise ScorerError("must be a category or a list of categories", field=where)
        try:
            explicit[by_name[name.lower()]] = check_categories([str(c) for c in cats], where=where)
        except ValueError as exc:
            raise ScorerError(str(exc), field=where) from exc
    out = {}
    for column in columns:
        anonymous = labels[column].upper().startswith("LABEL_")
        cats = (explicit.get(column) or default_label_categories(labels[column])
                or (fallback if anonymous else None))
        if not cats:
            raise ScorerError(f"label {labels[column]!r} has no safety category: add label_categories = "
                              f"{{{labels[column]} = [\"insult\", ...]}}, or leave it out of labels = [...]",
                              field="label_categories")
        out[column] = cats
    return out


def category_scores(row: np.ndarray, columns: dict[int, tuple[str, ...]]) -> dict[str, float]:
    """Per category, the highest probability among the label columns that detect it."""
    out: dict[str, float] = {}
    for column, cats in columns.items():
        for cat in cats:
            out[cat] = max(out.get(cat, 0.0), float(row[column]))
    return out
