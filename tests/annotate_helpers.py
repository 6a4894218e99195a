"""Test data for the queue and the annotator app: real SQLite files built through Store and records."""

from __future__ import annotations

import time
from pathlib import Path

from sbs_tui.core.queue.build import BuildOptions, build_queue
from sbs_tui.core.records import GenerationRecord, VoteRecord, prompt_id_for
from sbs_tui.core.store import Store

MODELS = ("secret-model-alpha", "secret-model-beta", "secret-model-gamma")


def answer(model: str, i: int) -> str:
    return f"Answer {i} from {'ABC'[MODELS.index(model)] if model in MODELS else model}: " + "word " * (5 + i % 7)


def make_store(path: Path | str | None, *, prompts: int = 6, models=MODELS, outputs: dict | None = None,
               gate: str | None = "passed", build: bool = True, **build_options) -> Store:
    """A store with ``prompts`` prompts answered by every model; ``outputs[(i, model)]`` overrides an answer."""
    store = Store(path) if path is not None else Store.memory()
    outputs = outputs or {}
    records = []
    for i in range(prompts):
        text = f"Prompt number {i}: explain topic {i}."
        for model in models:
            records.append(GenerationRecord(prompt_id_for(text), text, model, outputs.get((i, model), answer(model, i))))
    with store.transaction():
        store.generations.insert(records)
    if gate is not None:
        with store.transaction():
            store.generations.set_gate_status(store.generations.ids(), gate)
    if build:
        build_queue(store, BuildOptions(**build_options))
    return store


def judge_votes(store: Store, judge: str, winners: dict[tuple[int, str, str], str]) -> None:
    """Votes by a trusted judge: ``winners[(prompt_index, model_a, model_b)] = winner``."""
    records = []
    for (i, a, b), winner in winners.items():
        text = f"Prompt number {i}: explain topic {i}."
        records.append(VoteRecord(prompt_id_for(text), text, a, b, winner, judge, annotator_kind="judge"))
    with store.transaction():
        store.votes.insert(records)


async def wait_until(pilot, condition, timeout: float = 10.0) -> None:
    """Pause the app until ``condition()`` holds; fail the test after ``timeout`` seconds (the annotator tests'
    variant: raises instead of returning False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)
