"""Gate policy: which scorers run, with which thresholds, which of them block, and what a verdict means.

A *gate* is a scorer plus a policy: a threshold and whether failing it keeps a generation away from annotators
(``blocking``) or is only shown (informational). Gates come from the TOML config, ``[gates.NAME]``::

    [gates.toxicity]                  # built-in name: the scorer is "toxicity"
    backend = "hf"                    # default "profanity-check"
    model = "/models/xlmr-toxicity"
    threshold = 0.7
    blocking = true

    [gates.toxicity_strict]           # any other name picks its scorer explicitly
    scorer = "toxicity"
    threshold = 0.3
    blocking = false

Keys other than ``scorer``, ``backend``, ``model``, ``threshold``, ``blocking``, ``enabled``, ``languages`` and
``categories`` are options of the scorer's backend (checked: a misspelt option is an error, not a silent default).
``languages`` and ``categories`` declare what a configured backend reads and checks (an XLM-R classifier reads
many languages; a Llama Guard endpoint checks hate and self-harm); ``categories`` is also handed to the backend,
which may restrict itself to them (the lexicon does).

Defaults, when the config says nothing (blocking or not, when a gate runs, its threshold and the languages it
reads) are written once, in each scorer's ``ScorerInfo`` (``scorers/base.py``); docs/gates.md shows them.

A generation is ``passed`` when every *blocking* gate passed, ``blocked`` otherwise, and ``held`` for a lead
when no blocking gate of some concern reads its language (``[policy] uncovered``, default "review"). Every
outcome also lists what was *not* checked: ``unchecked``, the safety categories (the core list of
:mod:`scorers.taxonomy` plus ``[policy] categories`` and any a gate declares) that no enabled blocking gate checks
in that text's language (``[policy] unchecked``: "warn", the default, only reports them; "hold"; "fail"). Scores are
cached per (generation, gate, configuration hash): the hash covers scorer, backend, model and options but not threshold or
``blocking``, so changing a threshold re-decides without re-scoring.

This module imports no scorer at import time (the registry loads them when a gate first runs), so the core stays
free of torch; the annotator app runs the loop in a subprocess (``sbs gate --watch``), never in its own process.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbs_tui.core.settings import PolicySettings, Settings
from sbs_tui.errors import InputError

if TYPE_CHECKING:  # scorers load lazily at run time; these names are for the type checker only
    from scorers.base import Registry, ScorerSpec


POLICY_KEYS = {"scorer", "backend", "model", "threshold", "blocking", "enabled", "languages", "categories"}


def _registry() -> Registry:
    """The scorer registry (its descriptions say which gates block and which run by default)."""
    from scorers.base import REGISTRY

    return REGISTRY


def always_on() -> list[str]:
    """Gates that run without being configured: built-ins whose ``ScorerInfo.enabled`` is ``always``, in their
    declared order (which is the order of ``scores`` in every output)."""
    from scorers.base import BUILTIN_INFO

    return [info.name for info in BUILTIN_INFO if info.always_on]


@dataclass(slots=True)
class GateConfig:
    name: str
    scorer: str
    backend: str | None = None
    model: str | None = None
    threshold: float | None = None  # None: the scorer backend's default
    blocking: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    #: Languages this gate covers (ISO 639-1, ``*`` any); None: what its scorer declares.
    languages: tuple[str, ...] | None = None
    #: Safety categories this gate checks (:mod:`scorers.taxonomy`); None: what its scorer declares.
    categories: tuple[str, ...] | None = None

    @property
    def config_hash(self) -> str:
        payload: list[Any] = [self.scorer, self.backend, self.model, self.options]
        if self.categories is not None:  # handed to the backend (the lexicon matches only those): changes scores
            payload.append(sorted(self.categories))
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def spec(self) -> ScorerSpec:
        from scorers.base import ScorerSpec

        options = dict(self.options)
        if self.categories is not None:
            options["categories"] = list(self.categories)
        return ScorerSpec(backend=self.backend, model=self.model, options=options)


def _gate_from_table(name: str, table: dict[str, Any], source: str | None) -> GateConfig:
    where = f"gates.{name}"

    def typed(key: str, kind: type | tuple[type, ...]) -> Any:
        value = table.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool) and kind is not bool):
            raise InputError(f"has the wrong type ({type(value).__name__})", file=source, field=f"{where}.{key}")
        return value

    threshold = typed("threshold", (int, float))
    if threshold is not None and not math.isfinite(threshold):
        raise InputError("must be a finite number", file=source, field=f"{where}.threshold")
    scorer = typed("scorer", str) or name
    blocking = typed("blocking", bool)
    options = {k: v for k, v in table.items() if k not in POLICY_KEYS}
    model = typed("model", str)
    languages = typed("languages", list)
    if languages is not None and not all(isinstance(x, str) and x for x in languages):
        raise InputError("must be a list of language codes (e.g. [\"ru\", \"en\"] or [\"*\"])", file=source,
                         field=f"{where}.languages")
    categories = typed("categories", list)
    if categories is not None:
        from scorers.taxonomy import check_categories

        try:
            check_categories([str(c) for c in categories], where="categories")
        except ValueError as exc:
            raise InputError(str(exc).removeprefix("categories: "), file=source,
                             field=f"{where}.categories") from None
    if source:  # paths in a config file are relative to that file, not to wherever sbs is run from
        base = Path(source).resolve().parent
        if isinstance(options.get("references"), list):
            options["references"] = [_relative_to(base, r) for r in options["references"]]
        if model and model.startswith((".", "..")) and (base / model).exists():
            model = str(base / model)
    return GateConfig(
        name=name, scorer=scorer, backend=typed("backend", str), model=model,
        threshold=float(threshold) if threshold is not None else None,
        blocking=_blocking_default(scorer) if blocking is None else blocking,
        options=options, languages=tuple(x.lower() for x in languages) if languages is not None else None,
        categories=tuple(categories) if categories is not None else None,
    )


def _blocking_default(scorer: str) -> bool:
    reg = _registry()
    return scorer in reg and reg.info(scorer).blocking


def _relative_to(base: Path, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    path = Path(value).expanduser()
    return value if path.is_absolute() else str(base / path)


def load_policy(settings: Settings | None, *, only: Sequence[str] | None = None,
                references: Sequence[str] = ()) -> list[GateConfig]:
    """The gates to run, from ``[gates.*]`` plus the defaults; ``only`` (``--gates``) restricts and may add."""
    from scorers.base import REGISTRY, suggest

    source = getattr(settings, "source", None)
    tables = settings.gates if settings is not None else {}
    gates: dict[str, GateConfig] = {}
    disabled: set[str] = set()
    for name in always_on():
        gates[name] = _gate_from_table(name, {}, source)
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise InputError("must be a table ([gates.NAME])", file=source, field=f"gates.{name}")
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InputError("must be true or false", file=source, field=f"gates.{name}.enabled")
        if not enabled:
            gates.pop(name, None)
            disabled.add(name)
            continue
        gates[name] = _gate_from_table(name, table, source)
    memo = [g for g in gates.values() if g.scorer == "memorization"]
    if references:
        if memo:
            for g in memo:
                g.options["references"] = [*g.options.get("references", []), *references]
        elif "memorization" not in disabled or only:
            gates["memorization"] = _gate_from_table("memorization", {"references": list(references)}, source)
    if only:
        chosen: dict[str, GateConfig] = {}
        for name in only:
            if name in gates:
                chosen[name] = gates[name]
            elif name in REGISTRY:
                chosen[name] = _gate_from_table(name, {}, source)
            else:
                hint = suggest(name, [*gates, *REGISTRY.names()])
                raise InputError(f"unknown gate {name!r}{hint} (configured: {', '.join(gates) or 'none'}; "
                                 f"scorers: {', '.join(REGISTRY.names())})", field="--gates")
        gates = chosen
    for g in gates.values():
        if g.scorer not in REGISTRY:
            hint = suggest(g.scorer, REGISTRY.names())
            raise InputError(f"unknown scorer {g.scorer!r}{hint}", file=source, field=f"gates.{g.name}.scorer")
    return list(gates.values())


# --------------------------------------------------------------------------------------------------------------
# Running gates
# --------------------------------------------------------------------------------------------------------------




@dataclass(slots=True)
class Outcome:
    """What the gates said about one generation (the ``sbs score`` output fields)."""

    scores: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    #: ISO 639-1 code of the generation's language (``und``: nothing to identify; None: not identified).
    language: str | None = None
    #: No configured blocking gate reads this language: passing it would be a guess.
    uncovered: bool = False
    #: ``[policy] uncovered``: what an uncovered generation becomes ("review": held for a lead).
    uncovered_policy: str = "review"
    #: Safety categories no enabled blocking gate checked in this text's language (taxonomy order).
    unchecked: list[str] = field(default_factory=list)
    #: ``[policy] unchecked``: "warn", "hold" or "fail".
    unchecked_policy: str = "warn"

    @property
    def blocked(self) -> bool:
        return bool(self.reasons)

    @property
    def hold(self) -> str | None:
        """Why the generation is held for a lead ('uncovered' or 'unchecked'), or None: neither passed nor
        blocked until a lead decides."""
        if self.blocked:
            return None
        if self.uncovered and self.uncovered_policy == "review":
            return "uncovered"
        if self.unchecked and self.unchecked_policy == "hold":
            return "unchecked"
        return None

    @property
    def held(self) -> bool:
        return self.hold is not None

    @property
    def status(self) -> str:
        """The generation's gate status: 'blocked', 'held' (uncovered, for review) or 'passed'."""
        return "blocked" if self.blocked else "held" if self.held else "passed"


def uncovered_policy(settings: Settings | None) -> str:
    """``[policy] uncovered`` (checked by its schema, :class:`sbs_tui.core.settings.PolicySettings`)."""
    return (settings.policy if settings is not None else PolicySettings()).uncovered


def unchecked_policy(settings: Settings | None) -> str:
    """``[policy] unchecked`` ("warn", "hold" or "fail"; checked by its schema, :class:`PolicySettings`)."""
    return (settings.policy if settings is not None else PolicySettings()).unchecked


def required_categories(settings: Any = None, gates: Sequence[GateConfig] = ()) -> tuple[str, ...]:
    """The categories ``unchecked`` is computed over: the core list, ``[policy] categories`` and every category a
    configured gate declares — in the taxonomy's order."""
    from scorers.taxonomy import CATEGORIES, CORE_CATEGORIES, check_categories

    wanted = set(CORE_CATEGORIES)
    extra = settings.policy.categories if settings is not None else ()
    try:
        wanted.update(check_categories(list(extra)))
    except ValueError as exc:
        raise InputError(str(exc).removeprefix("categories: "), file=getattr(settings, "source", None),
                         field="policy.categories") from None
    for gate in gates:
        wanted.update(gate.categories or ())
    return tuple(c for c in CATEGORIES if c in wanted)


def is_failing(score: float | None, threshold: float, higher_is_worse: bool) -> bool:
    """A missing or NaN score fails: a gate that could not look at a generation must not wave it through."""
    if score is None or math.isnan(score):
        return True
    return score >= threshold if higher_is_worse else score < threshold
