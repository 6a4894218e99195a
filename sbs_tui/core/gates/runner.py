"""The gate runner: each gate's scorer built once and applied to batches, the result cache, the watch loop.

The policy it applies (which gates, their thresholds, blocking or not, what a verdict means) is
:mod:`sbs_tui.core.gates.policy`. This module imports no scorer at import time (the registry loads them when a gate
first runs), so the core stays free of torch; the annotator app runs the loop in a subprocess
(``sbs gate --watch``), never in its own process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sbs_tui.core.gates.policy import GateConfig, Outcome, _registry, is_failing, required_categories
from sbs_tui.errors import InputError

if TYPE_CHECKING:  # scorers load lazily at run time; these names are for the type checker only
    from sbs_tui.core.store import Store
    from scorers.base import Registry, ScoreItem, Scorer


class GateRunner:
    """Builds each gate's scorer on first use and applies the policy to batches of items."""

    def __init__(self, gates: Sequence[GateConfig], *, log: Callable[[str], None] | None = None,
                 source: str | None = None, uncovered: str = "review", identify_languages: bool = True,
                 registry: Registry | None = None, unchecked: str = "warn",
                 required: Sequence[str] | None = None):
        self.gates = list(gates)
        self.log = log
        self.source = source
        self.uncovered = uncovered
        self.unchecked = unchecked
        #: The categories ``unchecked`` is computed over (:func:`required_categories`).
        self.required = tuple(required) if required is not None else required_categories(None, self.gates)
        #: Language identification is what makes "uncovered" possible; off only for measurements.
        self.identify_languages = identify_languages
        self._registry = registry  # None: the process-wide ``scorers.REGISTRY`` (tests pass their own)
        self._scorers: dict[str, Scorer] = {}

    def languages(self, gate: GateConfig) -> tuple[str, ...]:
        """What a gate reads: its config's ``languages``, else its scorer's, else the registry's description."""
        if gate.languages is not None:
            return gate.languages
        declared = getattr(self._scorers.get(gate.name), "languages", None)  # a built scorer may know better
        if declared is not None:
            return tuple(declared)
        reg = self._registry or _registry()
        return reg.info(gate.scorer).languages if gate.scorer in reg else ("*",)

    def categories(self, gate: GateConfig) -> tuple[str, ...]:
        """What a gate checks: its config's ``categories``, else what its built backend says it covers
        (``covered_categories``: a classifier's label map, a guard's policy, an endpoint's labels that count), else
        its scorer's ``ScorerInfo.categories`` (a plug-in without a description checks nothing as far as
        ``unchecked`` can tell)."""
        if gate.categories is not None:
            return gate.categories
        covered = getattr(self._scorers.get(gate.name), "covered_categories", None)
        if covered is not None:
            return tuple(covered)
        reg = self._registry or _registry()
        return reg.info(gate.scorer).categories if gate.scorer in reg else ()

    def checked(self) -> list[tuple[frozenset[str], tuple[str, ...]]]:
        """(categories, languages) of every enabled blocking gate: what ``unchecked`` is measured against."""
        return [(frozenset(self.categories(g)), self.languages(g)) for g in self.gates if g.blocking]

    def unchecked_in(self, language: str | None,
                     checked: list[tuple[frozenset[str], tuple[str, ...]]] | None = None) -> list[str]:
        """The required categories that no enabled blocking gate checks in ``language`` (None: not identified,
        so only gates reading any language count)."""
        from scorers.language import UNDETERMINED, covers

        lang = UNDETERMINED if language is None else language
        checked = self.checked() if checked is None else checked
        done = set().union(*(cats for cats, langs in checked if covers(langs, lang)))
        return [c for c in self.required if c not in done]

    def concern(self, gate: GateConfig) -> str:
        reg = self._registry or _registry()
        return reg.info(gate.scorer).concern if gate.scorer in reg else gate.scorer

    def coverage(self) -> dict[str, set[str]]:
        """Per concern of the blocking gates (safety, memorization, ...): the languages some gate of it reads."""
        out: dict[str, set[str]] = {}
        for g in self.gates:
            if g.blocking:
                out.setdefault(self.concern(g), set()).update(self.languages(g))
        return out

    def covered_languages(self) -> set[str]:
        """Languages every blocking concern reads (``*``: all): outside them a generation is uncovered."""
        sets = list(self.coverage().values())
        specific = [s for s in sets if "*" not in s]
        if not specific:
            return {"*"} if sets else set()
        return set.intersection(*specific)

    def is_uncovered(self, language: str, coverage: dict[str, set[str]] | None = None) -> bool:
        """True when some blocking concern has no gate that reads ``language``."""
        from scorers.language import covers

        coverage = self.coverage() if coverage is None else coverage
        return any(not covers(sorted(langs), language) for langs in coverage.values())

    @property
    def has_blocking(self) -> bool:
        return any(g.blocking for g in self.gates)

    def scorer(self, gate: GateConfig) -> Scorer:
        if gate.name not in self._scorers:
            from scorers.base import REGISTRY, ScorerError

            try:
                spec = gate.spec()
                spec.log = self.log
                scorer = (self._registry or REGISTRY).create(gate.scorer, spec)
            except ScorerError as exc:
                field = f"gates.{gate.name}" + (f".{exc.field}" if exc.field else "")
                raise InputError(str(exc), file=self.source, field=field) from exc
            if self.log is not None:
                self.log(f"gate {gate.name}: {gate.scorer} scorer ready "
                         f"(backend {gate.backend or 'default'}, threshold {self.threshold(gate, scorer)}, "
                         f"{'blocking' if gate.blocking else 'informational'})")
            self._scorers[gate.name] = scorer
        return self._scorers[gate.name]

    def threshold(self, gate: GateConfig, scorer: Any = None) -> float:
        if gate.threshold is not None:
            return gate.threshold
        return float((scorer or self.scorer(gate)).default_threshold)

    def decide(self, gate: GateConfig, score: float | None) -> bool:
        scorer = self.scorer(gate)
        return is_failing(score, self.threshold(gate, scorer), scorer.higher_is_worse)

    def evaluate(self, items: Sequence[Any],
                 cached: dict[str, dict[int, tuple[float | None, dict[str, Any]]]] | None = None
                 ) -> list[Outcome]:
        """Score ``items`` (``scorers.ScoreItem``) with every gate; ``cached[gate][i]`` skips item ``i``."""
        outcomes = [Outcome(uncovered_policy=self.uncovered, unchecked_policy=self.unchecked) for _ in items]
        for gate in self.gates:
            known = (cached or {}).get(gate.name, {})
            todo = [i for i in range(len(items)) if i not in known]
            fresh: dict[int, tuple[float | None, dict[str, Any]]] = {}
            if todo:
                from scorers.base import ScorerError

                try:
                    results = self.scorer(gate).score([items[i] for i in todo])
                except ScorerError as exc:  # an unreachable endpoint, failed requests: one line, not a traceback
                    raise InputError(str(exc), file=self.source, field=f"gates.{gate.name}") from exc
                if len(results) != len(todo):
                    raise RuntimeError(f"scorer {gate.scorer!r} returned {len(results)} results for "
                                       f"{len(todo)} items")
                fresh = {i: (r.score, r.details) for i, r in zip(todo, results)}
            threshold = self.threshold(gate)
            # What ``decide`` reads, looked up once per gate and batch (and, as before, only for a blocking gate).
            higher_is_worse = self.scorer(gate).higher_is_worse if gate.blocking and outcomes else True
            for i, outcome in enumerate(outcomes):
                score, details = known[i] if i in known else fresh[i]
                outcome.scores[gate.name] = score
                outcome.details[gate.name] = details
                if gate.blocking and is_failing(score, threshold, higher_is_worse):
                    outcome.reasons.append({"gate": gate.name, "score": score, "threshold": threshold})
        self.settle_languages([item.output for item in items], outcomes)
        return outcomes

    def settle_languages(self, outputs: Sequence[str], outcomes: Sequence[Outcome]) -> None:
        """Each outcome's language, whether any blocking concern cannot read it, the safety categories nobody
        checked in it, and the block that ``[policy] uncovered = "block"`` or ``unchecked = "fail"`` asks for.
        Apart from :meth:`evaluate` because the Ray engine scores each gate in its own actor and settles
        languages once, on the merged outcome.

        ``unchecked`` costs a dictionary lookup per generation: it depends only on the languages, so it is worked
        out once per combination of languages and batch (each outcome gets its own copy of the list)."""
        checked = self.checked()
        by_language: dict[str | None, set[str]] = {}
        by_languages: dict[tuple[str | None, ...], list[str]] = {}

        def unchecked(langs: Sequence[str | None]) -> list[str]:
            key = tuple(langs)
            if key not in by_languages:
                for lang in langs:
                    if lang not in by_language:
                        by_language[lang] = set(self.unchecked_in(lang, checked))
                missing = set().union(*(by_language[lang] for lang in langs))
                by_languages[key] = [c for c in self.required if c in missing]
            return list(by_languages[key])

        identify = self.identify_languages and self.has_blocking
        if identify:
            from scorers.language import identify_parts

            coverage = self.coverage()
            blind_to: dict[str, bool] = {}  # like ``unchecked``: once per language and batch

            def uncovered(lang: str) -> bool:
                if lang not in blind_to:
                    blind_to[lang] = self.is_uncovered(lang, coverage)
                return blind_to[lang]
        for output, outcome in zip(outputs, outcomes):
            outcome.uncovered_policy, outcome.unchecked_policy = self.uncovered, self.unchecked
            if not identify:
                outcome.unchecked = unchecked([outcome.language])
                continue
            # The opening's language, unless a later part of the answer is in one some blocking concern cannot
            # read: then that language, the reason the answer is held (an English preamble to Chinese text).
            languages = [lang for lang, _ in identify_parts(output)]
            blind = [lang for lang in languages if uncovered(lang)]
            outcome.language = blind[0] if blind else languages[0]
            outcome.uncovered = bool(blind)
            outcome.unchecked = unchecked(languages)  # every part's language: what none of them had checked
        if self.uncovered == "block":
            for outcome in outcomes:
                if outcome.uncovered and not outcome.reasons:
                    outcome.reasons.append({"gate": "uncovered", "language": outcome.language})
        if self.unchecked == "fail":
            for outcome in outcomes:
                if outcome.unchecked and not outcome.reasons:
                    outcome.reasons.append({"gate": "unchecked", "categories": list(outcome.unchecked),
                                            "language": outcome.language})


def score_item(row: dict[str, Any]) -> ScoreItem:
    from scorers.base import ScoreItem

    return ScoreItem(prompt=row["prompt"], output=row["output"], reference=row.get("reference"))


@dataclass(slots=True)
class GateProgress:
    scored: int = 0
    passed: int = 0
    blocked: int = 0
    held: int = 0  # uncovered language, held for a lead's review
    reused: int = 0  # gate results taken from the cache
    batches: int = 0


def score_rows(store: Store, runner: GateRunner, rows: Sequence[dict[str, Any]]) -> tuple[list[Outcome], int]:
    """Score stored generation rows with every gate, reusing cached results and saving the new ones.

    Returns the outcomes and how many gate results came from the cache. Scoring runs outside any transaction;
    the write is one short ``BEGIN IMMEDIATE`` transaction.
    """
    outcomes, reused = _evaluate_cached(store, runner, rows)
    with store.transaction():
        store.gates.save_results(_result_rows(runner, rows, outcomes))
        store.gates.save_coverage([(r["id"], r["output_sha"], o.language, o.unchecked)
                                   for r, o in zip(rows, outcomes)])
    return outcomes, reused


def _evaluate_cached(store: Store, runner: GateRunner, rows: Sequence[dict[str, Any]]) -> tuple[list[Outcome], int]:
    items, cached, reused = prepare_batch(store, runner, rows)
    return runner.evaluate(items, cached), reused


def prepare_batch(store: Store, runner: GateRunner, rows: Sequence[dict[str, Any]]
                  ) -> tuple[list[ScoreItem], dict[str, dict[int, tuple[float | None, dict[str, Any]]]], int]:
    """What ``runner.evaluate`` needs for ``rows``: the items, the cached results per gate (by position) and how
    many results came from the cache. Apart so worker processes can score a batch this process read
    (:mod:`sbs_tui.core.gates.parallel`)."""
    ids = [r["id"] for r in rows]
    cached: dict[str, dict[int, tuple[float | None, dict[str, Any]]]] = {}
    reused = 0
    for gate in runner.gates:
        by_id = store.gates.cached_results(ids, gate.name, gate.config_hash)
        cached[gate.name] = {i: (by_id[gid].score, by_id[gid].details) for i, gid in enumerate(ids) if gid in by_id}
        reused += len(by_id)
    return [score_item(r) for r in rows], cached, reused


def _result_rows(runner: GateRunner, rows: Sequence[dict[str, Any]], outcomes: Sequence[Outcome]) -> list[tuple]:
    # A gate's configuration hash (JSON + SHA-256 of its options), threshold and direction once per batch, not
    # once per generation (``runner.decide`` looks all three up on every call).
    if not rows:
        return []
    gates = [(gate.name, gate.config_hash, runner.threshold(gate), runner.scorer(gate).higher_is_worse)
             for gate in runner.gates]
    results = []
    for row, outcome in zip(rows, outcomes):
        gid, sha, scores, details = row["id"], row["output_sha"], outcome.scores, outcome.details
        for name, config_hash, threshold, higher_is_worse in gates:
            score = scores[name]
            results.append((gid, name, config_hash, sha, score, is_failing(score, threshold, higher_is_worse),
                            details[name]))
    return results


def gate_batch(store: Store, runner: GateRunner, rows: Sequence[dict[str, Any]]) -> tuple[list[Outcome], int]:
    """Score one batch of pending generations and, in one short transaction, store the results and settle each
    generation: 'passed' when no blocking gate failed, else 'blocked' — or 'held' for a lead when no blocking
    gate reads its language (``[policy] uncovered = "review"``); a lead's override for the same output wins.

    The annotator app (WAL) keeps reading and writing meanwhile: the write lock is held only for the inserts.
    """
    outcomes, reused = _evaluate_cached(store, runner, rows)
    settle_batch(store, runner, rows, outcomes)
    return outcomes, reused


def settle_batch(store: Store, runner: GateRunner, rows: Sequence[dict[str, Any]],
                 outcomes: Sequence[Outcome]) -> None:
    """:func:`gate_batch`'s write: the results and each generation's status, in one short transaction."""
    with store.transaction():
        store.gates.save_results(_result_rows(runner, rows, outcomes))
        store.gates.settle_decisions([(r["id"], r["output_sha"], o.status, o.language, o.hold, o.unchecked)
                                      for r, o in zip(rows, outcomes)])


def count_batch(progress: GateProgress, outcomes: Sequence[Outcome], reused: int) -> None:
    """Add one settled batch to ``progress``."""
    progress.batches += 1
    progress.scored += len(outcomes)
    progress.reused += reused
    progress.blocked += sum(o.blocked for o in outcomes)
    progress.held += sum(o.held for o in outcomes)
    progress.passed += sum(o.status == "passed" for o in outcomes)


def gate_pending(store: Store, runner: GateRunner, *, batch_size: int = 64,
                 stop: threading.Event | None = None,
                 on_batch: Callable[[GateProgress, int], None] | None = None) -> GateProgress:
    """Gate every generation that is 'pending' now, batch by batch, until none is left or ``stop`` is set."""
    progress = GateProgress()
    after = 0
    while stop is None or not stop.is_set():
        rows = store.generations.pending(limit=batch_size, after_id=after)
        if not rows:
            break
        outcomes, reused = gate_batch(store, runner, rows)
        after = rows[-1]["id"]
        count_batch(progress, outcomes, reused)
        if on_batch is not None:
            on_batch(progress, len(rows))
    return progress


def watch(store: Store, runner: GateRunner, *, interval: float = 3.0, batch_size: int = 64,
          stop: threading.Event, on_batch: Callable[[GateProgress, int], None] | None = None,
          on_error: Callable[[Exception, float], None] | None = None) -> GateProgress:
    """Gate pending generations, then poll for newly imported ones every ``interval`` seconds until ``stop``.

    A failing batch (an endpoint down, a full disk) does not end the watcher: the error is reported through
    ``on_error``, the generations stay pending, and the next attempt waits longer (doubling, up to a minute).
    """
    total = GateProgress()
    failures = 0
    while not stop.is_set():
        try:
            done = gate_pending(store, runner, batch_size=batch_size, stop=stop, on_batch=on_batch)
        except Exception as exc:  # noqa: BLE001 - reported, then retried; the annotator app must keep its gates
            failures += 1
            wait = min(60.0, interval * 2 ** failures)
            if on_error is not None:
                on_error(exc, wait)
            stop.wait(wait)
            continue
        failures = 0
        for name in ("scored", "passed", "blocked", "held", "reused", "batches"):
            setattr(total, name, getattr(total, name) + getattr(done, name))
        stop.wait(interval)
    return total


# --------------------------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------------------------


def pass_rates(store: Store, gates: Iterable[GateConfig]) -> list[dict[str, Any]]:
    """Per model: generation counts by final status (a lead's overrides applied; ``held``: uncovered, for
    review; ``overridden``: how many a lead decided) and, per gate, how many were scored and passed (the
    funnel's first stage)."""
    status = store.gates.status_counts()
    per_gate = {g.name: (g, store.gates.result_counts(g.name, g.config_hash)) for g in gates}
    out = []
    for model in sorted(status):
        counts = status[model]
        total = sum(counts[k] for k in ("pending", "passed", "blocked", "held"))
        entry: dict[str, Any] = {"model": model, "generations": total, **counts,
                                 "pass_rate": round(counts["passed"] / total, 4) if total else None, "gates": {}}
        for name, (gate, by_model) in per_gate.items():
            count = by_model.get(model)
            scored, failed = (count.scored, count.blocked) if count is not None else (0, 0)
            entry["gates"][name] = {"scored": scored, "failed": failed, "blocking": gate.blocking,
                                    "pass_rate": round(1 - failed / scored, 4) if scored else None}
        out.append(entry)
    return out
