"""``sbs generate``: answers from OpenAI-compatible endpoints (or a small local causal LM), stored as generations.

Why here and not a script beside the tool: an evaluation starts from checkpoints and a prompt set, and what the
funnel later trusts (gates, queue, votes, rankings) is only as good as knowing *which* settings made each answer.
So every generation stores its sampling parameters and their hash in ``meta.generate``, and a rerun with the same
model and parameters sends nothing for what is stored: a run killed by Ctrl+C, a crash or a rate limit resumes
where it stopped. A stored answer made with *other* parameters (or imported) is never overwritten — votes may
already rest on it — and the run refuses before sending anything, asking for a new model name.

Models are declared once, ``[models.NAME]`` in the config (typed by ``core.settings.ModelSettings``), or given
for one run with ``--base-url``/``--served-model``. Requests go through the shared concurrent client (:mod:`scorers.http`:
retries, rate limits, a fatal error for a wrong URL or key) with streaming, so each answer's time to first token
and decode rate are measured; the ``local`` backend runs a causal LM folder with transformers (loaded lazily by
:class:`scorers.judge.LocalLM`, so the core never imports torch).

A prompt whose request fails after its retries is counted and listed in the report, not stored: a rerun asks
again. Finished answers are committed about once a second, so an interrupted run keeps all but the last second's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sbs_tui.core.records import GenerationRecord, prompt_id_for
from sbs_tui.core.settings import ModelSettings, Settings, default_of
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

COMMIT_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model to generate with: what makes its answers (``identity``) and how it is reached."""

    name: str
    served: str
    backend: str = "api"
    temperature: float = default_of(ModelSettings, "temperature")
    max_tokens: int = default_of(ModelSettings, "max_tokens")
    top_p: float | None = None
    seed: int | None = None
    system: str | None = None
    price_in_1k: float | None = None
    price_out_1k: float | None = None
    concurrency: int = default_of(ModelSettings, "concurrency")
    base_url: str | None = None
    api_key_env: str = default_of(ModelSettings, "api_key_env")
    client: dict[str, Any] = field(default_factory=dict)  # requests_per_minute, tokens_per_minute, timeout, ...
    device: str | None = None

    def identity(self) -> dict[str, Any]:
        """What changes an answer — not the endpoint's address, the key or the prices."""
        return {"backend": self.backend, "model": self.served, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "top_p": self.top_p, "seed": self.seed, "system": self.system}

    def params_hash(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:16]

    def messages(self, prompt: str) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return [*head, {"role": "user", "content": prompt}]

    def payload(self, prompt: str) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.served, "messages": self.messages(prompt),
                                "temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.top_p is not None:
            body["top_p"] = self.top_p
        if self.seed is not None:
            body["seed"] = self.seed
        return body

    def cost(self, tokens_in: int, tokens_out: int) -> float | None:
        if self.price_in_1k is None and self.price_out_1k is None:
            return None
        return (tokens_in * (self.price_in_1k or 0.0) + tokens_out * (self.price_out_1k or 0.0)) / 1000


@dataclass(slots=True)
class GenerateRequest:
    """What ``sbs generate`` was asked for (``None``: not given on the command line). ``concurrency``,
    ``max_tokens`` and ``temperature`` override every model's ``[models.NAME]`` keys of those names and are
    checked by the same schema (``core.settings.ModelSettings``), named as the flag in an error."""

    models: Sequence[str]
    prompts_file: str | None = None
    from_db: bool = False
    limit: int | None = None
    concurrency: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    base_url: str | None = None
    served_model: str | None = None


# -- models from the config ---------------------------------------------------------------------------------------


def resolve_models(settings: Settings, request: GenerateRequest) -> list[ModelSpec]:
    """Each ``--model NAME`` as a :class:`ModelSpec`: its ``[models.NAME]`` table checked key by key (an error
    names the file, line and key), with the command line's overrides on top."""
    names = list(dict.fromkeys(n.strip() for n in request.models if n.strip()))
    if not names:
        raise InputError("name at least one model (--model NAME)", field="--model")
    if request.served_model is not None and len(names) > 1:
        raise InputError("--served-model names one model's served name: give one --model with it",
                         field="--served-model")
    declared = settings.models
    specs = []
    for name in names:
        table = declared.get(name)
        if table is None and request.base_url is None and request.served_model is None:
            known = ", ".join(sorted(declared)) or "none"
            raise InputError(f"unknown model {name!r}: declare [models.{name}] in the config (declared: {known}), "
                             "or give --base-url URL [--served-model NAME] for a one-off", file=settings.source,
                             field="--model")
        specs.append(_spec(settings, name, table, request))
    return specs


#: The flags of ``sbs generate`` that override a ``[models.NAME]`` key of the same name for every model.
OVERRIDES = ("concurrency", "max_tokens", "temperature")


def with_overrides(values: ModelSettings, request: GenerateRequest) -> ModelSettings:
    """``values`` with the command line's overrides on top, checked by the schema's own rules (a value out of
    range is an error naming the flag: ``--temperature``, not the config key)."""
    given = {k: getattr(request, k) for k in OVERRIDES if getattr(request, k) is not None}
    if "temperature" in given:
        given["temperature"] = float(given["temperature"])
    try:
        return dataclasses.replace(values, **given)
    except InputError as exc:
        key = (exc.field or "").rpartition(".")[2]
        if key not in given:
            raise
        raise InputError(exc.message, field="--" + key.replace("_", "-")) from None


def _spec(settings: Settings, name: str, table: ModelSettings | None, request: GenerateRequest) -> ModelSpec:
    """A model's typed table (already checked by the schema, with file:line errors) and the command line's
    overrides (checked by the same schema in :func:`with_overrides`) as one :class:`ModelSpec`."""
    values = with_overrides(table if table is not None else ModelSettings(), request)
    if values.model is not None and not values.model.strip():
        raise settings.error("must not be blank", f"models.{name}", "model")
    served = request.served_model or values.model or name
    if values.backend == "local" and served.startswith(".") and settings.source:  # as gates' model folders
        from pathlib import Path

        served = str((Path(settings.source).parent / served).resolve())
    client = {k: getattr(values, k) for k in ("requests_per_minute", "tokens_per_minute", "timeout", "max_retries")
              if getattr(values, k) is not None}
    return ModelSpec(
        name=name, served=served, backend=values.backend,
        temperature=values.temperature, max_tokens=values.max_tokens, top_p=values.top_p,
        seed=request.seed if request.seed is not None else values.seed, system=values.system,
        price_in_1k=values.price_input_per_1k, price_out_1k=values.price_output_per_1k,
        concurrency=values.concurrency, base_url=request.base_url or values.base_url,
        api_key_env=values.api_key_env, client=client, device=values.device)


# -- prompts ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prompt:
    prompt_id: str
    text: str
    category: str | None = None
    reference: str | None = None


def read_prompts(path: str, *, limit: int | None = None) -> list[Prompt]:
    """Prompts from a JSONL / JSON / CSV file (the project's readers): ``prompt`` or ``instruction`` per row,
    optional ``prompt_id``, ``category``, ``reference``; other fields are ignored. The same prompt twice is one
    prompt. A bad row is an error naming the file and line, before anything is sent."""
    from sbs_tui.core.io.readers import iter_rows

    prompts: dict[str, Prompt] = {}
    for row in iter_rows(path):
        data = row.data
        key = "prompt" if "prompt" in data else "instruction"
        text = data.get(key)
        if not isinstance(text, str) or not text.strip():
            problem = "missing" if key not in data else "must be non-empty text"
            raise InputError(f"{problem} (each row needs prompt or instruction)", file=str(path), line=row.line,
                             field=key)
        extra = {}
        for name in ("prompt_id", "category", "reference"):
            value = data.get(name)
            if value is not None and value != "" and not isinstance(value, (str, int)):
                raise InputError("must be text", file=str(path), line=row.line, field=name)
            extra[name] = None if value in (None, "") else str(value)
        pid = (extra["prompt_id"] or "").strip() or prompt_id_for(text)
        prompts.setdefault(pid, Prompt(pid, text, extra["category"], extra["reference"]))
        if limit is not None and len(prompts) >= limit:
            break
    return list(prompts.values())


def load_prompts(store: Store, request: GenerateRequest) -> list[Prompt]:
    if (request.prompts_file is None) == (not request.from_db):
        raise InputError("give either --prompts FILE or --from-db", field="--prompts")
    if request.limit is not None and request.limit < 1:
        raise InputError("must be ≥ 1", field="--limit")
    if request.prompts_file is not None:
        return read_prompts(request.prompts_file, limit=request.limit)
    return [Prompt(*row) for row in store.generations.stored_prompts(limit=request.limit)]


# -- the report ---------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ModelRun:
    """One model's part of a run (the JSON of ``sbs generate --format json`` lists these)."""

    model: str
    served: str
    params_hash: str
    params: dict[str, Any]
    prompts: int = 0
    cached: int = 0  # already stored with these parameters: not sent
    asked: int = 0  # not stored yet: asked for in this run
    stored: int = 0
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None
    ttft_s: float | None = None  # median over this run's answers
    tokens_per_s: float | None = None  # median decode rate per answer (after its first token)
    throughput_tokens_per_s: float | None = None  # output tokens / this model's wall time
    seconds: float = 0.0
    failure: str | None = None  # a summary of what failed, or None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(slots=True)
class GenerateReport:
    models: list[ModelRun] = field(default_factory=list)
    prompts: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)  # {model, prompt_id, error, detail}
    interrupted: bool = False
    left: int = 0  # requests neither stored nor failed when the run stopped
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(m.failed for m in self.models)

    @property
    def stored(self) -> int:
        return sum(m.stored for m in self.models)

    def as_dict(self) -> dict[str, Any]:
        return {"prompts": self.prompts, "models": [m.as_dict() for m in self.models], "stored": self.stored,
                "failed": self.failed, "failures": self.failures, "interrupted": self.interrupted,
                "left": self.left, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    tokens_in: int
    tokens_out: int
    ttft_s: float | None
    seconds: float
    finish_reason: str | None = None
    tokens_counted: bool = False  # the server reported no usage: output tokens are the streamed chunks


@dataclass(frozen=True, slots=True)
class Failure:
    error: str
    detail: str = ""


Outcome = Answer | Failure


# -- the run ------------------------------------------------------------------------------------------------------


def run_generate(store: Store, settings: Settings, request: GenerateRequest, *,
                 on_total: Callable[[int], None] | None = None, progress: Callable[[int], None] | None = None,
                 backends: dict[str, Any] | None = None) -> GenerateReport:
    """Generate every (model, prompt) not stored yet with these parameters, store each answer as it arrives, and
    report. Ctrl+C (``KeyboardInterrupt``) stops the run: what arrived is kept, ``interrupted`` and ``left`` say
    what was not. ``backends`` (model name → backend) replaces the ones the specs build (tests)."""
    started = time.perf_counter()
    specs = resolve_models(settings, request)
    prompts = load_prompts(store, request)
    report = GenerateReport(prompts=len(prompts))
    ids = [p.prompt_id for p in prompts]
    plans: list[tuple[ModelSpec, list[Prompt]]] = []
    for spec in specs:
        digest = spec.params_hash()
        stored = store.generations.generated_with(spec.name, ids)
        other = [pid for pid, h in stored.items() if h != digest]
        if other:
            how = "imported" if all(stored[p] is None for p in other) else "generated with other parameters"
            raise InputError(f"model {spec.name!r} already has {len(other)} of these prompts' answers {how} "
                             f"(e.g. {other[0]}); stored answers are never replaced: declare these settings under "
                             "a new name ([models.NEW_NAME]) to compare them", field="--model")
        work = [p for p in prompts if p.prompt_id not in stored]
        report.models.append(ModelRun(spec.name, spec.served, digest, spec.identity(), prompts=len(prompts),
                                      cached=len(prompts) - len(work), asked=len(work)))
        plans.append((spec, work))
    todo = sum(len(work) for _, work in plans)
    if on_total:
        on_total(report.prompts * len(specs))
    if progress:
        progress(report.prompts * len(specs) - todo)
    try:
        for (spec, work), run in zip(plans, report.models):
            if work:
                backend = (backends or {}).get(spec.name) or make_backend(spec)
                _run_model(store, spec, work, run, report, backend, progress)
    except KeyboardInterrupt:
        report.interrupted = True
    report.left = todo - sum(m.stored + m.failed for m in report.models)
    report.seconds = time.perf_counter() - started
    return report


def _run_model(store: Store, spec: ModelSpec, work: list[Prompt], run: ModelRun, report: GenerateReport,
               backend: Any, progress: Callable[[int], None] | None) -> None:
    started = time.perf_counter()
    pending: list[GenerationRecord] = []
    ttfts: list[float] = []
    rates: list[float] = []
    last_commit = time.monotonic()
    seen: set[int] = set()
    source = f"sbs generate {spec.name} {run.params_hash}"

    def flush() -> None:
        if pending:
            with store.transaction():
                store.generations.insert(pending, source=source)
            run.stored += len(pending)
            pending.clear()

    def fail(index: int, error: str, detail: str) -> None:
        run.failed += 1
        report.failures.append({"model": spec.name, "prompt_id": work[index].prompt_id, "error": error,
                                "detail": detail})
        if progress:
            progress(1)

    try:
        try:
            for index, outcome in backend.generate(spec, [p.text for p in work]):
                seen.add(index)
                if isinstance(outcome, Failure):
                    fail(index, outcome.error, outcome.detail)
                    continue
                run.tokens_in += outcome.tokens_in
                run.tokens_out += outcome.tokens_out
                if outcome.ttft_s is not None:
                    ttfts.append(outcome.ttft_s)
                    decode = outcome.seconds - outcome.ttft_s
                    if outcome.tokens_out > 1 and decode > 0:
                        rates.append((outcome.tokens_out - 1) / decode)
                prompt = work[index]
                meta = {"generate": {"params": spec.identity(), "params_hash": run.params_hash,
                                     "tokens_in": outcome.tokens_in, "tokens_out": outcome.tokens_out,
                                     "tokens_counted": outcome.tokens_counted,
                                     "ttft_s": None if outcome.ttft_s is None else round(outcome.ttft_s, 4),
                                     "seconds": round(outcome.seconds, 4), "finish_reason": outcome.finish_reason,
                                     "cost": spec.cost(outcome.tokens_in, outcome.tokens_out)}}
                pending.append(GenerationRecord(prompt.prompt_id, prompt.text, spec.name, outcome.text,
                                                category=prompt.category, reference=prompt.reference, meta=meta))
                if progress:
                    progress(1)
                if time.monotonic() - last_commit >= COMMIT_EVERY_S:
                    flush()
                    last_commit = time.monotonic()
        except Exception as exc:
            from scorers.http import EndpointError

            if not isinstance(exc, EndpointError):
                raise
            # the endpoint cannot serve this model at all: its remaining prompts fail, the other models go on
            for index in range(len(work)):
                if index not in seen:
                    fail(index, "endpoint", str(exc))
    finally:
        flush()
        run.seconds = round(time.perf_counter() - started, 3)
        run.cost = spec.cost(run.tokens_in, run.tokens_out)
        run.ttft_s = round(statistics.median(ttfts), 4) if ttfts else None
        run.tokens_per_s = round(statistics.median(rates), 2) if rates else None
        run.throughput_tokens_per_s = round(run.tokens_out / run.seconds, 2) if run.seconds > 0 else None
        failed = [f for f in report.failures if f["model"] == spec.name]
        if failed:
            kinds: dict[str, int] = {}
            for f in failed:
                kinds[f["error"]] = kinds.get(f["error"], 0) + 1
            counts = ", ".join(f"{n}× {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
            run.failure = (f"{len(failed)} of {len(work)} prompt(s) failed ({counts}); first: "
                           f"{failed[0]['detail'] or failed[0]['error']}")


# -- backends -----------------------------------------------------------------------------------------------------


def make_backend(spec: ModelSpec) -> Any:
    return ApiBackend(spec) if spec.backend == "api" else LocalBackend(spec)


class ApiBackend:
    """An OpenAI-compatible chat endpoint, streamed, through the shared concurrent client."""

    def __init__(self, spec: ModelSpec):
        from scorers.base import ScorerError
        from scorers.http import ClientConfig, JsonClient

        try:
            config = ClientConfig.resolve(base_url=spec.base_url, key_env=spec.api_key_env,
                                          concurrency=spec.concurrency, **spec.client)
        except ScorerError as exc:
            raise InputError(str(exc), field=f"models.{spec.name}.{exc.field}" if exc.field else None) from exc
        self.client = JsonClient(config)

    def generate(self, spec: ModelSpec, texts: list[str]) -> Iterator[tuple[int, Outcome]]:
        from scorers.http import describe

        try:
            payloads = (spec.payload(text) for text in texts)
            for result in self.client.map("chat/completions", payloads, stream=True):
                if not result.ok:
                    if result.error != "cancelled":
                        yield result.index, Failure(result.error or "failed",
                                                    describe(self.client.url("chat/completions"), result))
                    continue
                yield result.index, _answer(result.data)
        finally:
            self.client.close()


def _answer(data: Any) -> Outcome:
    try:
        choice = data["choices"][0]
        text = str(choice["message"]["content"] or "")
    except (KeyError, IndexError, TypeError):
        return Failure("no answer", f"no message in the answer: {str(data)[:200]}")
    timing = data.get("timing") or {}
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
    counted = usage is None or not isinstance(usage.get("completion_tokens"), int)
    tokens_out = int(timing.get("chunks") or 0) if counted else int(usage["completion_tokens"])  # type: ignore[index]
    tokens_in = int(usage.get("prompt_tokens") or 0) if usage else 0
    return Answer(text, tokens_in, tokens_out, timing.get("ttft_s"), float(timing.get("seconds") or 0.0),
                  choice.get("finish_reason"), tokens_counted=counted)


class LocalBackend:
    """A causal LM folder through transformers, one prompt at a time (small models: tests, smoke runs)."""

    def __init__(self, spec: ModelSpec, lm: Any = None):
        if lm is None:
            from scorers.base import ScorerError, ScorerSpec
            from scorers.judge import LocalLM

            options = {"device": spec.device} if spec.device else {}
            try:
                lm = LocalLM(ScorerSpec(model=spec.served, options=options))
            except ScorerError as exc:
                raise InputError(str(exc), field=f"models.{spec.name}.model") from exc
        self.lm = lm

    def generate(self, spec: ModelSpec, texts: list[str]) -> Iterator[tuple[int, Outcome]]:
        for index, text in enumerate(texts):
            out = self.lm.generate(spec.messages(text), max_new_tokens=spec.max_tokens,
                                   temperature=spec.temperature, top_p=spec.top_p, seed=spec.seed)
            yield index, Answer(out["text"], out["tokens_in"], out["tokens_out"], out["ttft_s"], out["seconds"],
                                out["finish_reason"])

