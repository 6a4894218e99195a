"""``sbs judge``: an LLM judge compares pairs of generations, in both orders, and votes as an annotator.

Why both orders: LLM judges prefer whichever answer they read first (or second); asking twice and combining
cancels that bias, and how often the two orders disagree is itself a measure of the judge.

How the two answers become one vote (one per pair, so agreement statistics see one judgement per item):

* weighted — when the endpoint returns log-probabilities in both orders (AlpacaEval's weighted judge):
  P(a better) = mean of P(first better | a first) and 1 − P(first better | b first); the vote goes to the
  likelier model with that probability as its weight (a vote weight in (0.5, 1]; exactly 0.5 is a tie);
* discrete — otherwise: the winner when both orders name the same model, a tie when they disagree (or either
  says tie). An order whose reply names no verdict leaves the pair without a vote (counted as unparseable).

Every order's verdict is cached by (pair, judge configuration hash), written as it arrives, so a killed or
rate-limited run resumes where it stopped and a rerun costs nothing; a changed template, model or decoding
setting is a new configuration. Tokens in/out are counted, and priced when the configuration has prices.

Only what the judge *said* is cached. A reply that carries no answer because of the transport — a 2xx whose body
has no ``choices`` (a gateway's ``{"error": ...}``), a timeout, a 5xx after the retries — is a failed request:
not cached, counted in ``failed``, summarised in ``failure`` (the command exits 1), asked again by a rerun.
(Verdicts that older versions cached from such replies are forgotten at the start of a run.) A reply whose
log-probabilities are not all numbers (``NaN``) is read as if it had none (a discrete verdict), and implausible
token counts are ignored with one warning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sbs_tui.core.judge.templates import JudgeTemplate, load_template, p_first_from_mass
from sbs_tui.core.settings import JudgeSettings
from sbs_tui.core.store.judges import JudgePair, OrderVerdict
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

COMMIT_EVERY_S = 1.0
TIE_WEIGHT = 0.5  # a tie credits each model half a win; stored as weight ½, as docs/judge.md says


@dataclass(slots=True)
class JudgeConfig:
    """What the judge is (model, template, decoding) and how it is reached (backend, client options). Made by
    :func:`judge_config` from ``[judge]``, whose schema holds every default."""

    model: str
    annotator: str
    template: JudgeTemplate
    backend: str  # 'api' (OpenAI-compatible chat endpoint) | 'local' (causal LM folder)
    logprobs: bool
    top_logprobs: int
    price_in: float | None  # per million input tokens
    price_out: float | None
    client: dict[str, Any]  # base_url, api_key_env, concurrency, ... (api)
    local: dict[str, Any]  # device, batch_size, max_length (local)

    def identity(self) -> dict[str, Any]:
        """What changes a verdict: not the endpoint's address, the annotator's name or the prices."""
        return {"model": self.model, "backend": self.backend, "template": self.template.identity(),
                "logprobs": self.logprobs and self.backend == "api", "temperature": 0}

    def config_hash(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:16]

    def payload(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0,
                                "max_tokens": self.template.max_tokens}
        if self.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = self.top_logprobs
        return body

    def cost(self, tokens_in: int, tokens_out: int) -> float | None:
        if self.price_in is None and self.price_out is None:
            return None
        return (tokens_in * (self.price_in or 0.0) + tokens_out * (self.price_out or 0.0)) / 1e6


_CLIENT_KEYS = ("base_url", "api_key_env", "concurrency", "requests_per_minute", "tokens_per_minute", "timeout",
                "max_retries")
_LOCAL_KEYS = ("device", "batch_size", "max_length")


def judge_config(judge: JudgeSettings, **overrides: Any) -> JudgeConfig:
    """``[judge]`` (typed and range-checked by its schema) with command-line overrides (``None`` = not given)
    applied on top; the overrides are checked by the same schema."""
    try:
        judge = dataclasses.replace(judge, **{k: v for k, v in overrides.items() if v is not None})
    except InputError as exc:  # a flag out of range: name the flag, not the config key
        key = (exc.field or "").partition(".")[2]
        raise InputError(exc.message, field=f"--{key.replace('_', '-')}" if key in overrides else exc.field) from None
    if not judge.model:
        raise InputError("name the judge model (--model NAME, or model = ... under [judge])", field="judge.model")
    annotator = judge.annotator or f"judge:{judge.model.rstrip('/').rsplit('/', 1)[-1]}"
    client = {k: getattr(judge, k) for k in _CLIENT_KEYS if getattr(judge, k) is not None}
    local = {k: getattr(judge, k) for k in _LOCAL_KEYS if getattr(judge, k) is not None}
    return JudgeConfig(model=judge.model, annotator=annotator, template=load_template(judge.template),
                       backend=judge.backend, logprobs=judge.logprobs, top_logprobs=judge.top_logprobs,
                       price_in=judge.price_input_per_mtok, price_out=judge.price_output_per_mtok,
                       client=client, local=local)


# -- combining the two orders ---------------------------------------------------------------------------------


def combine(a_first: OrderVerdict, b_first: OrderVerdict) -> tuple[str, float, str] | None:
    """(winner, weight, mode) for a pair from its two orders, or None when a verdict is missing."""
    if a_first.p_first is not None and b_first.p_first is not None:
        p_a = (a_first.p_first + (1.0 - b_first.p_first)) / 2
        if math.isclose(p_a, 0.5, abs_tol=1e-9):
            return "tie", TIE_WEIGHT, "weighted"
        return ("model_a", p_a, "weighted") if p_a > 0.5 else ("model_b", 1.0 - p_a, "weighted")
    if a_first.verdict is None or b_first.verdict is None:
        return None
    a_says = {"first": "model_a", "second": "model_b", "tie": "tie"}[a_first.verdict]
    b_says = {"first": "model_b", "second": "model_a", "tie": "tie"}[b_first.verdict]
    winner = a_says if a_says == b_says else "tie"
    return winner, (TIE_WEIGHT if winner == "tie" else 1.0), "discrete"


def vote_uid(annotator: str, config_hash: str, pair: JudgePair) -> str:
    blob = json.dumps([annotator, config_hash, pair.gen_a, pair.gen_b])
    return "j_" + hashlib.sha1(blob.encode("utf-8")).hexdigest()[:24]


# -- the run --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class JudgeReport:
    annotator: str
    config_hash: str
    pairs: int = 0
    cached_orders: int = 0  # orders already judged by an earlier run
    asked: int = 0  # orders sent to the judge in this run
    votes_written: int = 0
    weighted: int = 0
    discrete: int = 0
    orders_disagree: int = 0
    unparseable: int = 0  # pairs without a vote because a reply named no verdict
    failed: int = 0  # orders whose requests failed after retries (a rerun asks again)
    failure: str | None = None
    warning: str | None = None  # e.g. implausible token counts that were ignored
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


Progress = Callable[[int], None]


def judge_with_settings(open_store: Callable[[], Store], judge: JudgeSettings, overrides: dict[str, Any], *,
                        pairs: str = "queue", baseline: str | None = None, limit: int | None = None,
                        progress: Progress | None = None,
                        on_total: Callable[[int], None] | None = None) -> JudgeReport:
    """``sbs judge`` as one call: ``[judge]`` with the typed flags over it (:func:`judge_config`: a bad value fails
    before the database is opened), then :func:`run_judge`. An endpoint that refuses log-probabilities is an input
    error that says to try ``--no-logprobs``."""
    from scorers.base import ScorerError

    config = judge_config(judge, **overrides)
    store = open_store()
    try:
        return run_judge(store, config, pairs=pairs, baseline=baseline, limit=limit, progress=progress,
                         on_total=on_total)
    except ScorerError as exc:
        hint = ""
        if "logprob" in str(exc).lower() and config.logprobs:
            hint = " (this endpoint may not return log-probabilities: try --no-logprobs)"
        raise InputError(f"{exc}{hint}") from None
    finally:
        store.close()


def run_judge(store: Store, config: JudgeConfig, *, pairs: str = "queue", baseline: str | None = None,
              limit: int | None = None, progress: Progress | None = None,
              on_total: Callable[[int], None] | None = None, backend: Any = None) -> JudgeReport:
    """Judge the pairs (``queue``, or every model against ``baseline``), store one vote per pair as annotator
    ``config.annotator`` (kind ``judge``), and report what happened. ``backend`` overrides the one the config
    builds (tests)."""
    started = time.perf_counter()
    q = store.judges
    selected = _select_pairs(store, config, pairs, baseline, limit)
    digest = config.config_hash()
    report = JudgeReport(config.annotator, digest, pairs=len(selected))
    with store.transaction():
        q.record_config(digest, config.annotator, {**config.identity(), "annotator": config.annotator})
        q.forget_transport_failures(digest, NO_MESSAGE)
    cache = q.cached_verdicts(digest, selected)
    report.cached_orders = len(cache)
    for v in cache.values():
        report.tokens_in += v.tokens_in
        report.tokens_out += v.tokens_out
    by_key = {(p.gen_a, p.gen_b): p for p in selected}
    # votes for pairs an earlier run finished (a run killed between the verdict and the vote)
    _write_votes(store, config, digest, [p for p in selected
                                         if (p.gen_a, p.gen_b, True) in cache and (p.gen_a, p.gen_b, False) in cache],
                 cache, report)
    todo = [(p, a_first) for p in selected for a_first in (True, False) if (p.gen_a, p.gen_b, a_first) not in cache]
    report.asked = len(todo)
    if on_total:
        on_total(len(selected) * 2)
    if progress:
        progress(len(selected) * 2 - len(todo))
    if todo:
        judge = backend or make_backend(config)
        pending: list[tuple[int, int, bool, OrderVerdict, str | None]] = []
        finished: list[JudgePair] = []
        have = set(cache)
        last_commit = time.monotonic()

        def flush() -> None:
            with store.transaction():
                q.save_verdicts(digest, pending)
                for a, b, a_first, verdict, _ in pending:
                    cache[(a, b, a_first)] = verdict
                _write_votes(store, config, digest, finished, cache, report, transaction=False)
            pending.clear()
            finished.clear()

        try:
            for (pair, a_first), answer in judge.judge(config, todo):
                if answer is None:  # failed after retries: not cached, a rerun asks again
                    report.failed += 1
                    continue
                verdict, reply = answer
                report.tokens_in += verdict.tokens_in
                report.tokens_out += verdict.tokens_out
                pending.append((pair.gen_a, pair.gen_b, a_first, verdict, reply))
                have.add((pair.gen_a, pair.gen_b, a_first))
                if (pair.gen_a, pair.gen_b, not a_first) in have:
                    finished.append(by_key[(pair.gen_a, pair.gen_b)])
                if progress:
                    progress(1)
                if time.monotonic() - last_commit >= COMMIT_EVERY_S:
                    flush()
                    last_commit = time.monotonic()
        finally:
            if pending or finished:
                flush()
        report.failure = getattr(judge, "failure", None)
        report.warning = getattr(judge, "warning", None)
    report.cost = config.cost(report.tokens_in, report.tokens_out)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _select_pairs(store: Store, config: JudgeConfig, pairs: str, baseline: str | None,
                  limit: int | None) -> list[JudgePair]:
    """The pairs ``sbs judge`` is asked to judge, after checking the annotator is not a person."""
    q = store.judges
    if q.annotator_kind(config.annotator) == "human":
        raise InputError(f"annotator {config.annotator!r} is a person; give the judge another --annotator name")
    if pairs == "baseline":
        if not baseline:
            raise InputError("--pairs baseline needs --baseline MODEL")
        if baseline not in store.model_names():
            raise InputError(f"unknown baseline model {baseline!r}")
        return list(_limited(q.baseline_pairs(baseline), limit))
    if pairs == "queue":
        return list(_limited(q.queue_pairs(), limit))
    raise InputError("must be 'queue' or 'baseline'", field="pairs")


def _limited(pairs: Iterator[JudgePair], limit: int | None) -> Iterator[JudgePair]:
    for i, pair in enumerate(pairs):
        if limit is not None and i >= limit:
            return
        yield pair


def _write_votes(store: Store, config: JudgeConfig, digest: str, done: list[JudgePair],
                 cache: dict[tuple[int, int, bool], OrderVerdict], report: JudgeReport, *,
                 transaction: bool = True) -> None:
    from sbs_tui.core.records import VoteRecord

    votes = []
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for pair in done:
        first, second = cache[(pair.gen_a, pair.gen_b, True)], cache[(pair.gen_a, pair.gen_b, False)]
        combined = combine(first, second)
        if combined is None:
            report.unparseable += 1
            continue
        winner, weight, mode = combined
        if mode == "weighted":
            report.weighted += 1
        else:
            report.discrete += 1
        a_verdict = {"first": "model_a", "second": "model_b", "tie": "tie"}.get(first.verdict or "")
        b_verdict = {"first": "model_b", "second": "model_a", "tie": "tie"}.get(second.verdict or "")
        if a_verdict and b_verdict and a_verdict != b_verdict:
            report.orders_disagree += 1
        judged: dict[str, Any] = {"config": digest, "mode": mode, "a_first": first.verdict,
                                  "b_first": second.verdict}
        if mode == "weighted" and first.p_first is not None and second.p_first is not None:
            judged["p_a_first"] = round(first.p_first, 6)
            judged["p_b_first"] = round(second.p_first, 6)
        meta = {"judge": judged}
        votes.append(VoteRecord(prompt_id=pair.prompt_id, prompt=None, model_a=pair.model_a, model_b=pair.model_b,
                                winner=winner, annotator=config.annotator, weight=round(weight, 6),
                                annotator_kind="judge", ts=now, meta=meta,
                                uid=vote_uid(config.annotator, digest, pair)))
    if not votes:
        return
    if transaction:
        with store.transaction():
            counts = store.votes.insert(votes, source=f"sbs judge {digest}")
    else:
        counts = store.votes.insert(votes, source=f"sbs judge {digest}")
    report.votes_written += counts.inserted


# -- backends -------------------------------------------------------------------------------------------------

Work = list[tuple[JudgePair, bool]]
Answer = tuple[OrderVerdict, str | None] | None


def make_backend(config: JudgeConfig) -> Any:
    return ApiJudge(config) if config.backend == "api" else LocalJudge(config)


def _order(pair: JudgePair, a_first: bool) -> tuple[str, str]:
    return (pair.output_a, pair.output_b) if a_first else (pair.output_b, pair.output_a)


class ApiJudge:
    """An OpenAI-compatible chat endpoint through the concurrent client (:mod:`scorers.http`)."""

    def __init__(self, config: JudgeConfig):
        from scorers.base import ScorerError
        from scorers.http import ClientConfig, JsonClient

        options = dict(config.client)
        try:
            client_config = ClientConfig.resolve(base_url=options.pop("base_url", None),
                                                 key_env=options.pop("api_key_env", "OPENAI_API_KEY"), **options)
        except ScorerError as exc:
            raise InputError(str(exc), field=f"judge.{exc.field}" if exc.field else None) from exc
        self.client = JsonClient(client_config)
        self.failure: str | None = None
        self.warning: str | None = None

    def judge(self, config: JudgeConfig, work: Work) -> Iterator[tuple[tuple[JudgePair, bool], Answer]]:
        from scorers.http import Result, failure_summary, ignored_usage_warning

        payloads = (config.payload(config.template.messages(pair.prompt, *_order(pair, a_first)))
                    for pair, a_first in work)
        failed = []
        for result in self.client.map("chat/completions", payloads):
            item = work[result.index]
            answer = _read_answer(config.template, result.data) if result.ok else None
            if answer is None:  # failed, or a 2xx without a message: a transport failure, never a verdict
                failed.append(result if not result.ok else
                              Result(result.index, error="reply without choices",
                                     detail=_shown(result.data), attempts=result.attempts))
                yield item, None
                continue
            yield item, answer
        self.failure = failure_summary(self.client.url("chat/completions"), failed, len(work))
        self.warning = ignored_usage_warning(self.client.usage)
        self.client.close()


NO_MESSAGE = "no message in the answer:"  # how versions before issue 21 cached a reply without choices


def _shown(data: Any) -> str:
    from scorers.http import _printable

    return _printable(json.dumps(data, ensure_ascii=False, default=str)[:200])


def _read_answer(template: JudgeTemplate, data: Any) -> Answer:
    """The verdict in a chat completion, or None when the reply carries no message at all."""
    from scorers.http import usage_tokens

    try:
        choice = data["choices"][0]
        text = str(choice["message"]["content"] or "")
    except (KeyError, IndexError, TypeError):
        return None
    counts = usage_tokens(data.get("usage")) or (0, 0)  # implausible counts: the client warns once
    logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
    p_first = template.p_first(logprobs) if logprobs is not None and _all_numbers(logprobs) else None
    verdict = template.verdict(text)
    if verdict is None and p_first is not None:  # a reply cut short still has a verdict token's probabilities
        verdict = "first" if p_first > 0.5 else "second" if p_first < 0.5 else "tie"
    return OrderVerdict(verdict, p_first, counts[0], counts[1]), text[:2000]


def _all_numbers(logprobs: Any) -> bool:
    """False when any ``logprob`` in the reply is not a number or is NaN (or +inf): such a reply's
    probabilities are missing, not zero — a NaN skipped as "no mass" would read as P = 0 for its label."""
    stack = [logprobs]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "logprob" and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                         or math.isnan(value) or value == math.inf):
                    return False
                if isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return True


class LocalJudge:
    """A local causal LM, not asked to generate but to score each verdict label (always parseable, always
    weighted: P(first better) from the labels' likelihoods)."""

    def __init__(self, config: JudgeConfig, lm: Any = None):
        if lm is None:
            from scorers.base import ScorerError, ScorerSpec
            from scorers.judge import LocalLM

            try:
                lm = LocalLM(ScorerSpec(model=config.model, options=dict(config.local)))
            except ScorerError as exc:
                raise InputError(str(exc), field="judge.model") from exc
        self.lm = lm
        self.batch = int(config.local.get("batch_size", 8))
        self.failure: str | None = None

    def judge(self, config: JudgeConfig, work: Work) -> Iterator[tuple[tuple[JudgePair, bool], Answer]]:
        labels = config.template.labels
        for start in range(0, len(work), self.batch):
            chunk = work[start:start + self.batch]
            prompts = [config.template.prompt_text(pair.prompt, *_order(pair, a_first)) for pair, a_first in chunk]
            rows = self.lm.candidate_logprobs(prompts, list(labels))
            for item, row in zip(chunk, rows):
                top = max(row)
                mass = {label: math.exp(x - top) for label, x in zip(labels, row)}
                p = p_first_from_mass(mass, labels)
                best = labels[row.index(top)]
                verdict = ("first", "second", "tie")[labels.index(best)]
                yield item, (OrderVerdict(verdict, p), None)
