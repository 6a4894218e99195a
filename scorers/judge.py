"""LLM-as-judge: rubric scores (1–10) or a pairwise verdict against the reference answer.

Modes (``mode``):
* ``rubric`` (default): the judge rates the answer on ``criteria`` (any of ``relevance``, ``creativity``,
  ``factuality``, ``hallucination`` — the last against the reference answer when the data has one — or your own
  names with a description in ``[gates.judge.rubric]``); the gate's number is the mean, 1–10.
* ``pairwise``: the answer is compared with the reference answer twice, once in each order, because LLM judges
  prefer whichever answer they read first; the number is the answer's win share (1 = wins both orders,
  0.5 = a tie or the two orders disagree, 0 = loses both). Items without a reference get no score.

Backends: ``api`` (default) — any OpenAI-compatible ``/chat/completions`` endpoint (``base_url``, ``model``,
``api_key_env``; temperature 0; ``concurrency``, ``requests_per_minute``, ``tokens_per_minute`` as in
:mod:`scorers.http`); ``local`` — a causal language model from a local folder, which is not asked to
generate text but to *score* each possible verdict (the likelihood of " 1" … " 10", or "A"/"B"/"C"), so its
answer is always parseable and the rubric score is an expectation rather than a guess.

Verdicts from chat models are parsed leniently: a JSON object, ``criterion: 7``, ``[[7]]``, ``7/10``,
``Rating: 7``; ``[[A]]``, ``Winner: B``, ``Output (a)``, "tie".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from scorers.base import ScoreItem, ScorerError, ScoreResult, ScorerSpec, pick_device

RUBRIC = {
    "relevance": "Does the answer address what the user asked?",
    "creativity": "Is the answer original and engaging where the task calls for it?",
    "factuality": "Are the answer's factual claims correct?",
    "hallucination": "Is the answer free of claims that the reference answer contradicts or does not support? "
                     "(10 = no hallucination)",
}
MAX_CHARS = 12_000

_NUMBER = r"(10(?:\.0+)?|[0-9](?:\.[0-9]+)?)"


def rubric_prompt(item: ScoreItem, criteria: dict[str, str]) -> str:
    lines = ["You are a strict, impartial evaluator. Rate the ANSWER to the USER REQUEST on each criterion from "
             "1 (worst) to 10 (best).", "", "Criteria:"]
    lines += [f"- {name}: {desc}" for name, desc in criteria.items()]
    lines += ["", f"USER REQUEST:\n{item.prompt[:MAX_CHARS]}", "", f"ANSWER:\n{item.output[:MAX_CHARS]}"]
    if item.reference:
        lines += ["", f"REFERENCE ANSWER:\n{item.reference[:MAX_CHARS]}"]
    lines += ["", "Reply with one JSON object mapping each criterion to its score, e.g. "
              + json.dumps({name: 7 for name in criteria}) + "."]
    return "\n".join(lines)


def pairwise_prompt(prompt: str, first: str, second: str) -> str:
    return ("You are an impartial judge. Which answer follows the user's request better? Ignore length and "
            "order.\n\n"
            f"USER REQUEST:\n{prompt[:MAX_CHARS]}\n\n[ANSWER A]\n{first[:MAX_CHARS]}\n\n"
            f"[ANSWER B]\n{second[:MAX_CHARS]}\n\n"
            "Reply with [[A]] if A is better, [[B]] if B is better, or [[C]] for a tie.")


def _clamp(x: float) -> float:
    return min(10.0, max(1.0, x))


def parse_scores(text: str, criteria: Sequence[str]) -> dict[str, float] | None:
    """Criterion → score from a judge's reply; None when no score can be found."""
    for blob in re.findall(r"\{[^{}]*\}", text, re.DOTALL):
        try:
            obj = json.loads(blob)
        except ValueError:
            continue
        if isinstance(obj, dict):
            lowered = {str(k).strip().lower(): v for k, v in obj.items()}
            found = {}
            for c in criteria:
                value = lowered.get(c.lower())
                if isinstance(value, dict):
                    value = value.get("score")
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    found[c] = _clamp(float(value))
                elif isinstance(value, str) and re.fullmatch(r"\s*" + _NUMBER + r"\s*(?:/\s*10)?\s*", value):
                    found[c] = _clamp(float(re.search(_NUMBER, value).group(1)))
            if len(found) == len(criteria):
                return found
    found = {}
    for c in criteria:
        m = re.search(rf"\b{re.escape(c)}\b\W{{0,6}}{_NUMBER}", text, re.IGNORECASE)
        if m:
            found[c] = _clamp(float(m.group(1)))
    if len(found) == len(criteria):
        return found
    overall = (re.search(r"\[\[\s*" + _NUMBER + r"\s*\]\]", text)
               or re.search(r"(?:score|rating|overall)\W{0,6}" + _NUMBER, text, re.IGNORECASE)
               or re.search(_NUMBER + r"\s*/\s*10\b", text))
    if overall:
        value = _clamp(float(overall.group(1)))
        return {c: found.get(c, value) for c in criteria}
    return None


_VERDICT_PATTERNS = (
    re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE),
    re.compile(r"\"(?:winner|verdict|better)\"\s*:\s*\"\s*(?:answer\s*|output\s*)?(A|B|C|tie)\s*\"", re.IGNORECASE),
    re.compile(r"^\s*Output\s*\(([ab])\)\s*$", re.IGNORECASE | re.MULTILINE),
    re.compile(r"(?:winner|verdict|better (?:answer|response|output)|prefer(?:red)?)\s*(?:is|:)?\s*"
               r"(?:answer|output|response|assistant)?\s*\(?\s*([AB])\b\)?", re.IGNORECASE),
    re.compile(r"\b(?:answer|output|response)\s*\(?([AB])\)?\s+is\s+(?:better|preferred|superior)",
               re.IGNORECASE),
)


def parse_verdict(text: str) -> str | None:
    """'A', 'B', 'tie', or None when the reply names no verdict (the last explicit verdict wins)."""
    for pattern in _VERDICT_PATTERNS:
        matches = pattern.findall(text)
        if matches:
            v = matches[-1].strip().upper()
            return "tie" if v in ("C", "TIE") else v
    if re.search(r"\b(?:it'?s a tie|tie|equally good|equally bad|both (?:are )?equal)\b", text, re.IGNORECASE):
        return "tie"
    return None


class ApiChat:
    def __init__(self, spec: ScorerSpec):
        from scorers.http import JsonClient

        self.client = JsonClient(spec)
        if not spec.model:
            raise ScorerError("the api judge needs model = \"NAME\"", field="model")
        self.model = spec.model
        self.max_tokens = spec.option("max_tokens", 256, int)

    def payload(self, prompt: str) -> dict[str, Any]:
        return {"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                "messages": [{"role": "user", "content": prompt}]}

    def complete(self, prompt: str) -> str:
        return self.complete_many([prompt])[0]

    def complete_many(self, prompts: Sequence[str]) -> list[str]:
        """Replies to every prompt, in order, ``concurrency`` requests at a time; any request that still fails
        after its retries fails the batch with a summary (a gate must not pass what it could not judge)."""
        from scorers.http import failure_summary

        results = self.client.run("chat/completions", (self.payload(p) for p in prompts))
        failed = failure_summary(self.client.url("chat/completions"), results, len(prompts))
        if failed:
            raise ScorerError(failed)
        return [_message_text(r.data) for r in results]


def _message_text(answer: Any) -> str:
    try:
        return str(answer["choices"][0]["message"]["content"] or "")
    except (KeyError, IndexError, TypeError) as exc:
        raise ScorerError(f"chat endpoint returned no message: {str(answer)[:200]}") from exc


class LocalLM:
    """A causal LM that scores candidate continuations (batched, no sampling, no gradients)."""

    def __init__(self, spec: ScorerSpec):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not spec.model:
            raise ScorerError("the local judge needs model = \"/path/to/causal-lm\"", field="model")
        from scorers.hf import quiet_loading

        try:
            with quiet_loading():
                self.tokenizer = AutoTokenizer.from_pretrained(spec.model)
                self.model = AutoModelForCausalLM.from_pretrained(spec.model)
        except (OSError, ValueError) as exc:
            raise ScorerError(f"cannot load causal LM {spec.model!r}: {exc}", field="model") from exc
        self.device = pick_device(spec.option("device", None, str))
        self.model.to(self.device).eval()
        self.batch_size = spec.option("batch_size", 8, int)
        config = self.model.config
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        self.max_length = min(spec.option("max_length", 2048, int), limit or 2048)
        self._torch = torch

    def _ids(self, prompt: str) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                     add_generation_prompt=True, tokenize=True)
            ids = list(ids["input_ids"] if isinstance(ids, dict) else ids)
        else:
            ids = self.tokenizer(prompt, add_special_tokens=True)["input_ids"]
        return ids[-(self.max_length - 8):]  # keep the end: that is where the question is asked

    def generate(self, messages: Sequence[dict[str, str]], *, max_new_tokens: int, temperature: float = 1.0,
                 top_p: float | None = None, seed: int | None = None) -> dict[str, Any]:
        """One answer to a chat (``sbs generate``'s local backend): its text, token counts, time to first token
        (measured by a streamer on the first new token) and seconds. Temperature 0 decodes greedily; a seed
        makes sampling repeatable."""
        import time

        torch = self._torch
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
            ids = list(ids["input_ids"] if isinstance(ids, dict) else ids)
        else:
            text = "\n\n".join(m["content"] for m in messages)
            ids = self.tokenizer(text, add_special_tokens=True)["input_ids"]
        limit = self.max_length
        new = max(1, min(max_new_tokens, limit - 1))
        ids = ids[-(limit - new):] if len(ids) > limit - new else ids
        started = time.perf_counter()
        first: list[float] = []

        class _FirstToken:  # transformers' streamer protocol: put(prompt ids), put(each new token), end()
            calls = 0

            def put(self, value: Any) -> None:
                self.calls += 1
                if self.calls == 2 and not first:
                    first.append(time.perf_counter() - started)

            def end(self) -> None:
                pass

        if seed is not None:
            torch.manual_seed(seed)
        sample = temperature > 0
        options: dict[str, Any] = {"do_sample": sample, "max_new_tokens": new, "streamer": _FirstToken()}
        if sample:
            options["temperature"] = temperature
            if top_p is not None:
                options["top_p"] = top_p
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.inference_mode():
            input_ids = torch.tensor([ids], device=self.device)
            output = self.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                         pad_token_id=pad, **options)
        produced = output[0, len(ids):].tolist()
        eos = self.tokenizer.eos_token_id
        finish = "stop" if eos is not None and produced and produced[-1] == eos else "length"
        text = self.tokenizer.decode(produced, skip_special_tokens=True)
        return {"text": text, "tokens_in": len(ids), "tokens_out": len(produced),
                "ttft_s": first[0] if first else None, "seconds": time.perf_counter() - started,
                "finish_reason": finish}

    def candidate_logprobs(self, prompts: Sequence[str], candidates: Sequence[str]) -> list[list[float]]:
        """log P(candidate | prompt) for every prompt × candidate."""
        torch = self._torch
        cand_ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in candidates]
        if any(not ids for ids in cand_ids):
            raise ScorerError("a verdict candidate tokenizes to nothing with this tokenizer", field="model")
        seqs, spans = [], []
        for p in prompts:
            p_ids = self._ids(p)
            for c in cand_ids:
                seqs.append(p_ids + c)
                spans.append((len(p_ids), c))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        scores: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(seqs), self.batch_size):
                chunk = seqs[start:start + self.batch_size]
                width = max(len(s) for s in chunk)
                ids = torch.tensor([s + [pad] * (width - len(s)) for s in chunk], device=self.device)
                mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in chunk], device=self.device)
                logp = torch.log_softmax(self.model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
                for row, (p_len, c) in enumerate(spans[start:start + self.batch_size]):
                    scores.append(sum(float(logp[row, p_len + j - 1, tok]) for j, tok in enumerate(c)))
        k = len(candidates)
        return [scores[i * k:(i + 1) * k] for i in range(len(prompts))]


class JudgeScorer:
    name = "judge"
    higher_is_worse = False

    def __init__(self, spec: ScorerSpec):
        self.mode = spec.option("mode", "rubric", str)
        if self.mode not in ("rubric", "pairwise"):
            raise ScorerError("must be 'rubric' or 'pairwise'", field="mode")
        names = spec.option("criteria", ["relevance"], list)
        custom = spec.option("rubric", {}, dict)
        unknown = [c for c in names if c not in RUBRIC and c not in custom]
        if unknown:
            raise ScorerError(f"no description for criteria {unknown}: add them under rubric = {{...}}",
                              field="criteria")
        self.criteria = {c: custom.get(c, RUBRIC.get(c, "")) for c in names}
        self.default_threshold = 5.0 if self.mode == "rubric" else 0.5
        backend = spec.backend or "api"
        if backend not in ("api", "local"):
            raise ScorerError(f"unknown judge backend {backend!r} (choose from api, local)", field="backend")
        self.backend = ApiChat(spec) if backend == "api" else LocalLM(spec)

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        if not items:
            return []
        return self._rubric(items) if self.mode == "rubric" else self._pairwise(items)

    # -- rubric ---------------------------------------------------------------------------------------------

    def _rubric(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        if isinstance(self.backend, LocalLM):
            return self._rubric_local(items)
        replies = self.backend.complete_many([rubric_prompt(item, self.criteria) for item in items])
        results = []
        for reply in replies:
            scores = parse_scores(reply, list(self.criteria))
            if scores is None:
                results.append(ScoreResult(math.nan, {"error": "unparseable verdict", "reply": reply[:300]}))
            else:
                results.append(ScoreResult(sum(scores.values()) / len(scores), {"criteria": scores}))
        return results

    def _rubric_local(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        values = [str(v) for v in range(1, 11)]
        prompts, owners = [], []
        for i, item in enumerate(items):
            for name, desc in self.criteria.items():
                prompts.append(rubric_prompt(item, {name: desc}) + f"\n{name} score (1-10):")
                owners.append((i, name))
        logps = self.backend.candidate_logprobs(prompts, [" " + v for v in values])
        per_item: list[dict[str, float]] = [{} for _ in items]
        for (i, name), row in zip(owners, logps):
            top = max(row)
            weights = [math.exp(x - top) for x in row]
            per_item[i][name] = sum(w * (k + 1) for k, w in enumerate(weights)) / sum(weights)
        return [ScoreResult(sum(s.values()) / len(s), {"criteria": {k: round(v, 3) for k, v in s.items()}})
                for s in per_item]

    # -- pairwise -------------------------------------------------------------------------------------------

    def _pairwise(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        todo = [i for i, item in enumerate(items) if item.reference]
        verdicts: dict[int, tuple[str | None, str | None]] = {}
        if isinstance(self.backend, LocalLM):
            prompts = []
            for i in todo:
                prompts.append(pairwise_prompt(items[i].prompt, items[i].output, items[i].reference))
                prompts.append(pairwise_prompt(items[i].prompt, items[i].reference, items[i].output))
            logps = self.backend.candidate_logprobs(prompts, ["A", "B", "C"]) if prompts else []
            labels = ("A", "B", "tie")
            for k, i in enumerate(todo):
                first, second = logps[2 * k], logps[2 * k + 1]
                verdicts[i] = (labels[first.index(max(first))], labels[second.index(max(second))])
        else:
            prompts = []
            for i in todo:
                item = items[i]
                prompts.append(pairwise_prompt(item.prompt, item.output, item.reference))
                prompts.append(pairwise_prompt(item.prompt, item.reference, item.output))
            replies = self.backend.complete_many(prompts)
            for k, i in enumerate(todo):
                verdicts[i] = (parse_verdict(replies[2 * k]), parse_verdict(replies[2 * k + 1]))
        results = []
        for i in range(len(items)):
            if i not in verdicts:
                results.append(ScoreResult(math.nan, {"error": "no reference answer to compare with"}))
                continue
            forward, backward = verdicts[i]
            results.append(ScoreResult(win_share(forward, backward), {
                "answer_first": forward, "reference_first": backward,
                "consistent": _consistent(forward, backward)}))
        return results


def win_share(answer_first: str | None, reference_first: str | None) -> float:
    """The answer's share of the win over both orders: it is 'A' in the first order and 'B' in the second.

    An unparseable verdict counts as a tie for that order: it neither wins nor loses.
    """
    credit = {"A": 1.0, "B": 0.0}
    first = credit.get(answer_first or "", 0.5)
    second = 1.0 - credit.get(reference_first or "", 0.5)
    return (first + second) / 2


def _consistent(answer_first: str | None, reference_first: str | None) -> bool:
    swap = {"A": "B", "B": "A", "tie": "tie"}
    return answer_first is not None and swap.get(answer_first) == reference_first


def build(spec: ScorerSpec) -> Any:
    return JudgeScorer(spec)
