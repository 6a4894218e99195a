"""``sbs arena``: live battles — the annotator's own prompt, two blinded models answering it at once, one vote.

Why here (and not in the screen): which pair is drawn, what counts as a battle, how an answer is streamed and
gated, and what is stored are decisions the browser path will need too; the screen only draws them.

* **Pairs.** Two of ``[arena] models`` (names of ``[models.NAME]`` tables), drawn uniformly among the pairs with
  the fewest battles so far in the campaign — the stored votes between them (any annotator, any source) plus the
  ledger's battles without a vote (running, gated, failed: every session, every annotator), read in the
  transaction that records the new battle. That is the simplest active-sampling rule that spreads comparisons
  evenly; which model is "A" is a coin.
* **Streaming.** Each answer is one streamed chat completion (the same request ``sbs generate`` sends, assembled by
  :func:`scorers.http.read_sse`), read in a thread; each content chunk is handed to the screen as it arrives. No
  retries: a half-shown answer must not restart under the annotator's eyes. A model that sends nothing for
  ``stall_timeout`` seconds, or has not finished within ``timeout``, or answers an error, *did not answer*; the
  screen says so by side ("Model B did not answer"), never by name.
* **Gates.** Each finished answer is stored as a generation under a prompt id of its own (``arena-<battle id>``:
  the same prompt battled twice gives two answers, and stored answers are never replaced) and gated at once by the
  blocking gates (``gating.gate_batch``: the same policy, cache and bookkeeping as ``sbs gate``). A blocked or held
  answer is hidden with a one-line reason, and the battle ends *gated*: no vote can be given on it.
* **Votes** are ordinary votes (:class:`VoteRecord` with the prompt and both outputs), so ``rank``, ``agreement``
  and exports see them; ``meta.arena`` holds the battle id and each side's time to first token.
* **Rate limit and budget** hold across every session of a campaign: :mod:`sbs_tui.core.generate.arena_ledger` records
  each battle as it starts, in the database.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

from sbs_tui.core.generate.generation import Answer, Failure, GenerateRequest, ModelSpec, resolve_models
from sbs_tui.core.records import GenerationRecord, VoteRecord
from sbs_tui.core.settings import Settings
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.gates.runner import GateRunner
    from sbs_tui.core.store import Store

SIDES = ("A", "B")
#: What a vote key means: the winner as stored.
WINNERS = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "both_bad"}


@dataclass(frozen=True, slots=True)
class ArenaConfig:
    """``[arena]`` with its models resolved: what the arena app runs with."""

    models: tuple[ModelSpec, ...]
    battles_per_minute: float
    timeout: float
    stall_timeout: float
    gate_timeout: float
    budget: float | None = None  # [arena] budget: see core.generate.arena_ledger


def load_arena(settings: Settings) -> ArenaConfig:
    """``[arena]`` (typed and range-checked by the schema, ``core.settings.ArenaSettings``) and the rules that
    need the other tables: at least two different models, each a declared ``[models.NAME]`` with backend api;
    errors name the file, line and key. Its models are resolved as ``sbs generate`` resolves ``--model``."""
    arena = settings.arena
    if not arena.models:
        raise settings.error("missing: name at least two [models.NAME] tables, e.g. models = [\"a\", \"b\"]",
                             "arena", "models")
    names = list(dict.fromkeys(arena.models))
    if len(names) < 2:
        raise settings.error("name at least two different models", "arena", "models")
    for name in names:
        if name not in settings.models:
            raise settings.error(f"{name!r} is not declared: add a [models.{name}] table", "arena", "models")
    check_prices(settings, names)
    specs = resolve_models(settings, GenerateRequest(models=names))
    for spec in specs:
        if spec.backend != "api":
            raise settings.error("the arena streams from endpoints: backend must be api", f"models.{spec.name}",
                                 "backend")
    return ArenaConfig(tuple(specs), arena.battles_per_minute, arena.timeout, arena.stall_timeout,
                       arena.gate_timeout, arena.budget)


# -- pairs --------------------------------------------------------------------------------------------------------


def battle_counts(store: Store, names: Sequence[str]) -> dict[frozenset[str], int]:
    """Battles so far per unordered pair of ``names``, over the whole campaign: the stored votes between them (any
    annotator, any source) plus the ledger's battles without a vote (running, answered, gated, incomplete) of
    every session and annotator — so a pair one session saw blocked, or another session is streaming now, is
    not drawn again before the others. A voted battle is counted once, by its vote."""
    counts = {frozenset(p): 0 for p in combinations(names, 2)}
    models, rows = store.pair_counts.outcomes(include_flagged=True)  # kept counts: per battle, not per vote
    for a, b, _score, n in rows:
        key = frozenset((models[a], models[b]))
        if key in counts:
            counts[key] += n
    for key, n in store.arena.unvoted_pairs().items():
        if key in counts:
            counts[key] += n
    return counts


def draw_pair(counts: dict[frozenset[str], int], rng: random.Random) -> tuple[str, str]:
    """(model A, model B): uniformly among the pairs with the fewest battles, the order a coin."""
    fewest = min(counts.values())
    candidates = sorted(sorted(p) for p, n in counts.items() if n == fewest)
    pair = list(rng.choice(candidates))
    rng.shuffle(pair)
    return pair[0], pair[1]


# -- one battle ---------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Side:
    """One answer of a battle. ``status``: streaming, done, failed (did not answer), blocked (by a gate)."""

    label: str  # "A" or "B": all the screen may show
    model: str
    text: str = ""
    status: str = "streaming"
    reason: str = ""  # why failed/blocked, in words free of the model's name
    error: str | None = None  # what failed (a kind: timeout, HTTP 500, ...), when it did not answer
    answer: Answer | None = None
    generation_id: int | None = None


@dataclass(slots=True)
class Battle:
    prompt: str
    a: Side
    b: Side
    battle_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    source_prompt_id: str | None = None
    gating: bool = False  # the gates are running on its answers
    gated: bool = False  # the gates have run: a vote may be taken if both answers passed

    @property
    def prompt_id(self) -> str:
        return f"arena-{self.battle_id}"

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.a, self.b

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.a.model, self.b.model))

    @property
    def finished(self) -> bool:
        return all(s.status != "streaming" for s in self.sides)

    @property
    def votable(self) -> bool:
        return all(s.status == "done" for s in self.sides)


def new_battle(prompt: str, a: str, b: str, source_prompt_id: str | None = None) -> Battle:
    if not prompt.strip():
        raise InputError("write a prompt first", field="prompt")
    return Battle(prompt, Side("A", a), Side("B", b), source_prompt_id=source_prompt_id)


def stream_answer(spec: ModelSpec, prompt: str, on_text: Callable[[str], None], *, stop: threading.Event,
                  timeout: float, stall_timeout: float) -> Answer | Failure:
    """One streamed answer; ``on_text`` gets each content chunk as it arrives. Never raises for the endpoint's
    sake: whatever goes wrong is a :class:`Failure` (its words never carry the model's name)."""
    import httpx

    from scorers.http import ClientConfig, read_sse

    try:
        config = ClientConfig.resolve(base_url=spec.base_url, key_env=spec.api_key_env)
    except Exception as exc:  # a missing key or URL: the screen still names no model
        return Failure("config", str(exc).replace(spec.name, "this model"))
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    body = {**spec.payload(prompt), "stream": True, "stream_options": {"include_usage": True}}
    deadline = time.monotonic() + timeout
    started = time.perf_counter()

    def tap(lines: Iterator[str]) -> Iterator[str]:
        for line in lines:
            if time.monotonic() > deadline:
                raise TimeoutError(f"not finished within {timeout:g} s")
            if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
                try:
                    chunk = json.loads(line[5:])
                    for choice in chunk.get("choices") or ():
                        delta = (choice.get("delta") or {}).get("content") if choice.get("index", 0) == 0 else None
                        if delta:
                            on_text(str(delta))
                except (ValueError, AttributeError, TypeError):
                    pass  # read_sse says what is wrong with it
            yield line

    try:
        with httpx.Client(timeout=httpx.Timeout(stall_timeout, connect=min(stall_timeout, 10.0)),
                          headers=headers) as client:
            with client.stream("POST", f"{config.base_url}/chat/completions", json=body) as response:
                if not 200 <= response.status_code < 300:
                    return Failure(f"HTTP {response.status_code}", "the endpoint answered an error")
                data = read_sse(tap(response.iter_lines()), stop, started)
    except httpx.TimeoutException:
        return Failure("timeout", f"no new token for {stall_timeout:g} s")
    except TimeoutError as exc:
        return Failure("timeout", str(exc))
    except httpx.HTTPError as exc:
        return Failure("connection error", type(exc).__name__)
    except Exception as exc:  # a broken stream (bad JSON, an error event, cancelled)
        return Failure("stream error", type(exc).__name__)
    from sbs_tui.core.generate.generation import _answer

    return _answer(data)


# -- storing ------------------------------------------------------------------------------------------------------


def _meta(battle: Battle, side: Side, spec: ModelSpec) -> dict[str, Any]:
    answer = side.answer
    failed = [{"side": s.label, "model": s.model, "error": s.error} for s in battle.sides if s.status == "failed"]
    return {"arena": {"battle": battle.battle_id, "side": side.label, "source_prompt_id": battle.source_prompt_id,
                      "did_not_answer": failed},
            "generate": {"params": spec.identity(), "params_hash": spec.params_hash(),
                         "tokens_in": answer.tokens_in if answer else None,
                         "tokens_out": answer.tokens_out if answer else None,
                         "ttft_s": None if answer is None or answer.ttft_s is None else round(answer.ttft_s, 4),
                         "seconds": None if answer is None else round(answer.seconds, 4)}}


def store_answers(store: Store, battle: Battle, specs: dict[str, ModelSpec]) -> None:
    """Store each finished answer as a generation (gate status pending), under the battle's own prompt id."""
    done = [s for s in battle.sides if s.status == "done"]
    if not done:
        return
    records = [GenerationRecord(battle.prompt_id, battle.prompt, s.model, s.text, meta=_meta(battle, s, specs[s.model]))
               for s in done]
    from sbs_tui.core.store.arena import ARENA_SOURCE

    with store.transaction():
        store.generations.insert(records, source=f"{ARENA_SOURCE} {battle.battle_id}")
    for row in store.generations.pending(limit=1000):
        for side in done:
            if row["prompt_id"] == battle.prompt_id and row["model"] == side.model:
                side.generation_id = row["id"]


def gate_battle(store: Store, runner: GateRunner, battle: Battle, specs: dict[str, ModelSpec]) -> None:
    """Store the finished answers and gate them here and now (``gating.gate_batch``: the policy, cache and
    bookkeeping of ``sbs gate``); then :func:`settle_from_store`."""
    from sbs_tui.core.gates import runner as gating

    store_answers(store, battle, specs)
    ids = {s.generation_id for s in battle.sides if s.generation_id is not None}
    rows = [r for r in store.generations.pending(limit=1000) if r["id"] in ids]
    if rows:
        gating.gate_batch(store, runner, rows)
    settle_from_store(store, battle)


def settle_from_store(store: Store, battle: Battle) -> bool:
    """Read what the gates decided on the battle's stored answers (whoever ran them: this process or the
    background watcher). False while one is still pending. A blocked (or held) answer's side becomes
    ``blocked`` with a one-line reason naming the gate, never the model."""
    details = {}
    for side in battle.sides:
        if side.status == "done" and side.generation_id is not None:
            detail = store.gates.review_detail(side.generation_id)
            if detail is None or detail.status == "pending":
                return False
            details[side.label] = detail
    for side in battle.sides:
        detail = details.get(side.label)
        if detail is None:
            continue
        if detail.status == "blocked":
            gates = ", ".join(g for g, r in detail.results.items() if r["failed"]) or "a lead's"
            side.status, side.reason = "blocked", f"hidden: blocked by the {gates} gate"
        elif detail.status == "held":
            side.status, side.reason = "blocked", "hidden: held for a lead's review (no blocking gate covers it)"
    return True


def vote_record(battle: Battle, choice: str, annotator: str) -> VoteRecord:
    """The battle's vote as an ordinary vote (model_a is side A). Only a votable battle can be voted on."""
    if not battle.votable:
        raise ValueError("this battle cannot be voted on (an answer is missing or was blocked)")
    from sbs_tui.core.queue.annotator import new_vote_uid

    a, b = battle.a, battle.b
    meta = {"arena": {"battle": battle.battle_id, "source_prompt_id": battle.source_prompt_id,
                      "ttft_s": [None if s.answer is None else s.answer.ttft_s for s in (a, b)]}}
    from datetime import UTC, datetime

    return VoteRecord(battle.prompt_id, battle.prompt, a.model, b.model, WINNERS[choice], annotator,
                      ts=datetime.now(UTC).isoformat(timespec="seconds"), output_a=a.text, output_b=b.text,
                      meta=meta, uid=new_vote_uid())


def store_vote(store: Store, battle: Battle, choice: str, annotator: str) -> VoteRecord:
    """Store the vote and mark the battle voted in the ledger, in one transaction; a revoked annotator's vote is
    refused there (:class:`AccessRevokedError`), as ``store.queue.record_vote`` refuses one in the annotator app."""
    from sbs_tui.core.store import AccessRevokedError

    vote = vote_record(battle, choice, annotator)
    with store.transaction():
        if store.arena.revoked(annotator):
            raise AccessRevokedError(f"{annotator}'s access was revoked (sbs annotators revoke)")
        store.votes.insert([vote], source="sbs arena")
        store.arena.voted(battle.battle_id)
    return vote


def stored_prompts(store: Store, limit: int = 500) -> list[tuple[str, str]]:
    """(prompt_id, text) of the campaign's stored prompts, the arena's own battles left out."""
    return [(pid, text) for pid, text, *_ in store.generations.stored_prompts(limit=limit)
            if not pid.startswith("arena-")]


def check_prices(settings: Settings, names: Sequence[str]) -> None:
    """With ``[arena] budget`` set, every arena model needs a price: a battle of an unpriced model would cost
    nothing and the budget would never run out."""
    if settings.arena.budget is None:
        return
    for name in names:
        model = settings.models[name]
        if model.price_input_per_1k is None and model.price_output_per_1k is None:
            raise settings.error("[arena] budget needs a price: set price_input_per_1k and/or price_output_per_1k",
                                 f"models.{name}", "price_output_per_1k")
