"""The scorer protocol and the one registry every gate is built from.

A *scorer* turns a batch of (prompt, output[, reference]) items into one number each, plus details worth
showing (the worst sentence, the matched span, the flagged categories). Whether that number *blocks* a
generation is the gate policy's business (:mod:`sbs_tui.core.gates.runner`), not the scorer's: the scorer only says
which direction is bad (``higher_is_worse``) and what threshold is a sensible default for its backend.

Why a registry with lazy entries: ``sbs --help`` and the annotator app must not import scikit-learn, torch or
transformers. Built-in scorers are registered as ``"module:function"`` strings and imported when first built;
third-party scorers come from the entry-point group ``sbs_tui.scorers`` and are *listed* without being
imported, so a broken plug-in cannot break start-up: it is reported on stderr when someone asks for it.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

from sbs_tui.errors import SbsError
from scorers.taxonomy import LLAMA_GUARD_3, OPENAI_MODERATION

ENTRY_POINT_GROUP = "sbs_tui.scorers"


class ScorerError(SbsError):
    """A scorer cannot be built or run as configured (unknown name, bad option, unreachable endpoint): exit 2."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field

    def describe(self) -> str:
        return (f"field {self.field!r}: " if self.field else "") + str(self)


@dataclass(frozen=True, slots=True)
class ScoreItem:
    """One thing to score. ``reference`` is the gold answer where the data has one (judge, contamination)."""

    prompt: str
    output: str
    reference: str | None = None


@dataclass(slots=True)
class ScoreResult:
    score: float
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Scorer(Protocol):
    """What a gate needs from a scorer. Implementations score whole batches (models are batched inside)."""

    name: str
    #: True when larger scores are worse (toxicity); False when larger is better (helpfulness).
    higher_is_worse: bool
    #: The threshold this backend is calibrated for; gate configs may override it.
    default_threshold: float
    # Optional: ``fork_safe = True`` says the scorer is in-process CPU work with no threads, sockets or torch of
    # its own, so a large ``sbs gate`` pass may score with it in forked worker processes
    # (:mod:`sbs_tui.core.gates.parallel`); without it the pass scores in one process.

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreResult]: ...


@dataclass(slots=True)
class ScorerSpec:
    """How to build a scorer: backend, model and backend-specific options (from ``[gates.NAME]``)."""

    backend: str | None = None
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: Where a scorer may report slow one-off work (building an index, loading a model); stderr in the CLI.
    log: Callable[[str], None] | None = None
    _used: set[str] = field(default_factory=set, repr=False)

    def option(self, key: str, default: Any = None, kind: type | tuple[type, ...] | None = None) -> Any:
        """Read one option, checking its type; the key is remembered so unknown keys can be reported."""
        self._used.add(key)
        if key not in self.options:
            return default
        value = self.options[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is not None and not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ScorerError(f"must be {names}, got {type(value).__name__}", field=key)
        return value

    def check_unused(self, scorer: str) -> None:
        """Refuse options nobody read: a typo in a config key must not silently fall back to a default.
        ``categories`` is a gate's declaration of what it checks (:data:`DECLARATIONS`): a backend may read it to
        restrict itself, none has to."""
        unknown = sorted(set(self.options) - self._used - DECLARATIONS)
        if unknown:
            hint = ""
            close = difflib.get_close_matches(unknown[0], sorted(self._used), n=1)
            if close:
                hint = f" (did you mean {close[0]!r}?)"
            raise ScorerError(f"unknown option for scorer {scorer!r}{hint}", field=unknown[0])


ScorerFactory = Callable[[ScorerSpec], Scorer]

#: Options every backend accepts without reading them: a gate's declared safety categories (``[gates.NAME]
#: categories``, checked against :mod:`scorers.taxonomy` by the gate policy).
DECLARATIONS = frozenset({"categories"})

#: When a gate runs without being asked for (``ScorerInfo.enabled``).
ENABLED_WHEN = {
    "always": "always",
    "references": "reference corpora given (--reference or references)",
    "configured": "[gates.NAME] configured",
    "named": "configured or named in --gates",
}


@dataclass(frozen=True, slots=True)
class ScorerInfo:
    """Everything a reader needs to know about one scorer before building it: the one place each gate default
    is written. Gating (blocking default, which gates are on), the docs tables and ``sbs score --help`` read it.

    ``languages`` are the ISO 639-1 codes the *offline default* backend covers (``("*",)``: any language, e.g.
    verbatim overlap); a blocking gate covers nothing else, so a generation in another language is reported
    ``uncovered`` instead of being silently passed. A config may declare ``languages`` for its backend (an
    XLM-R classifier covers many).
    """

    name: str
    target: str  # "module:attribute" of the factory
    summary: str
    blocking: bool = False
    enabled: str = "configured"  # a key of ENABLED_WHEN
    threshold: str = ""  # the default threshold(s), as documented (backends differ)
    direction: str = "blocks at ≥ threshold"
    languages: tuple[str, ...] = ("*",)
    #: What the gate guards. Coverage is per concern: memorization reads every language, but that does not make
    #: a German answer *safe*; it is uncovered unless some blocking safety gate reads German.
    concern: str = "safety"
    #: The safety categories (:mod:`scorers.taxonomy`) the offline default backend checks; a config may
    #: declare its own (a Llama Guard or moderation backend covers more). Empty for non-safety gates.
    categories: tuple[str, ...] = ()

    @property
    def always_on(self) -> bool:
        return self.enabled == "always"


#: The categories an offline default *checks*: those where its recall on the held-out test rows
#: (tests/data/gates_test.jsonl, never used for tuning) is at least :data:`CHECKED_RECALL` in every language it
#: reads — tests/test_coverage.py measures it. Both block insult words and the lexicon some threats, but on insults
#: and threats in new wordings they catch 0–29 %: claiming ``insult`` or ``threat`` as checked would hide that.
CHECKED_RECALL = 0.5
TOXICITY_CATEGORIES = ("obscenity",)  # held-out recall: obscenity 4/5 en; insult 0/7, threat 0/7
LEXICON_CATEGORIES = ("obscenity",)  # obscenity 3/5 en, 4/5 ru; insult 0/7, 2/7; threat 2/7, 0/7

BUILTIN_INFO = (
    ScorerInfo("toxicity", "scorers.toxicity:build",
               "an English obscenity and strong-insult filter (profanity-check's bag of words, max over sentence "
               "windows); not a toxicity model: no threats, hate, self-harm", blocking=True,
               enabled="always", threshold="0.99 (profanity-check) / 0.5 (hf)", languages=("en",),
               categories=TOXICITY_CATEGORIES),
    ScorerInfo("lexicon", "scorers.lexicon:build",
               "an obscenity and strong-insult filter (Russian and English stems + inflections, insults aimed at "
               "someone) that also knows common explicit threats",
               blocking=True, enabled="always", threshold="1 (a direct use; a quoted mention scores 0.5)",
               languages=("ru", "en"), categories=LEXICON_CATEGORIES),
    ScorerInfo("moderation", "scorers.moderation:build",
               "harmful content, OpenAI-compatible moderation or a classifier", blocking=True,
               enabled="configured", threshold="0.5", languages=("*",),
               categories=tuple(dict.fromkeys(c for cs in OPENAI_MODERATION.values() for c in cs))),
    ScorerInfo("guard", "scorers.guard:build",
               "a safety model served as a chat model: Llama Guard 3 (or ShieldGemma, Granite Guardian)",
               blocking=True, enabled="configured", threshold="0.5 (1 = unsafe; P(unsafe) with logprobs)",
               languages=("en", "fr", "de", "hi", "it", "pt", "es", "th"),
               categories=tuple(dict.fromkeys(c for cs in LLAMA_GUARD_3.values() for c in cs))),
    ScorerInfo("helpfulness", "scorers.helpfulness:build",
               "relevance of the answer to the prompt, refusals score 0", enabled="named",
               threshold="0.1 (MiniLM) / 0 (reward logit)", direction="fails below", languages=("en",),
               concern="quality"),
    ScorerInfo("memorization", "scorers.memorization:build",
               "verbatim overlap with reference corpora (13-grams)", blocking=True, enabled="references",
               threshold="overlap 0.5 (50 for token metrics)", languages=("*",), concern="memorization"),
    ScorerInfo("judge", "scorers.judge:build",
               "LLM-as-judge rubric score (API chat endpoint or local causal LM)", enabled="configured",
               threshold="5 (rubric) / 0.5 (pairwise)", direction="fails below", languages=("*",),
               concern="quality"),
    ScorerInfo("sentiment", "scorers.sentiment:build", "VADER compound sentiment, informational",
               enabled="always", threshold="−0.5", direction="fails below", languages=("en",), concern="tone"),
)

#: (name, target, summary) triples, kept for callers of the first registry version.
BUILTINS = tuple((i.name, i.target, i.summary) for i in BUILTIN_INFO)


def suggest(name: str, candidates: Sequence[str], n: int = 1) -> str:
    """``"; did you mean 'x'?"`` for the closest candidates, or ``""``: the one did-you-mean rule."""
    close = difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    name: str
    target: str  # "module:attribute" of the factory
    origin: str  # "builtin" or the distribution that provides the plug-in
    summary: str = ""
    #: The built-in description; plug-ins get a neutral one (informational, runs when configured, any language).
    info: ScorerInfo | None = None

    @property
    def described(self) -> ScorerInfo:
        return self.info or ScorerInfo(self.name, self.target, self.summary)


class Registry:
    """Scorer names → factories. Names are unique: registering a taken name is an error, never a shadowing."""

    def __init__(self, group: str = ENTRY_POINT_GROUP, *, builtins: bool = True):
        self._group = group
        self._entries: dict[str, RegistryEntry] = {}
        self._factories: dict[str, ScorerFactory] = {}
        self._plugins_listed = False
        if builtins:
            for info in BUILTIN_INFO:
                self.register(info.name, info.target, summary=info.summary, info=info)

    # -- registration -----------------------------------------------------------------------------------------

    def register(self, name: str, factory: ScorerFactory | str, *, summary: str = "",
                 origin: str = "builtin", info: ScorerInfo | None = None) -> None:
        """Register a factory (a callable, or ``"module:attr"`` imported on first use)."""
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"invalid scorer name {name!r}")
        if name in self._entries:
            raise ValueError(
                f"scorer name {name!r} is already registered by {self._entries[name].origin} "
                f"({self._entries[name].target}); choose another name"
            )
        target = factory if isinstance(factory, str) else f"{factory.__module__}:{factory.__qualname__}"
        self._entries[name] = RegistryEntry(name, target, origin, summary, info)
        if not isinstance(factory, str):
            self._factories[name] = factory

    def _list_plugins(self) -> None:
        """Add entry-point plug-ins to the table without importing them."""
        if self._plugins_listed:
            return
        self._plugins_listed = True
        for ep in metadata.entry_points(group=self._group):
            dist = getattr(ep, "dist", None)
            origin = f"plug-in {dist.name}" if dist is not None else "plug-in"
            try:
                self.register(ep.name, ep.value, origin=origin)
            except ValueError as exc:
                print(f"warning: ignoring scorer plug-in {ep.name!r} ({ep.value}): {exc}", file=sys.stderr)

    # -- lookup -----------------------------------------------------------------------------------------------

    def names(self) -> list[str]:
        self._list_plugins()
        return sorted(self._entries)

    def entries(self) -> list[RegistryEntry]:
        self._list_plugins()
        return [self._entries[n] for n in sorted(self._entries)]

    def info(self, name: str) -> ScorerInfo:
        """The description of a registered scorer (raises KeyError for an unknown name)."""
        self._list_plugins()
        return self._entries[name].described

    def __contains__(self, name: object) -> bool:
        self._list_plugins()
        return name in self._entries

    def factory(self, name: str) -> ScorerFactory:
        self._list_plugins()
        entry = self._entries.get(name)
        if entry is None:
            hint = suggest(name, list(self._entries), n=3)
            raise ScorerError(f"unknown scorer {name!r}{hint} (known: {', '.join(sorted(self._entries))})")
        if name not in self._factories:
            module_name, _, attr = entry.target.partition(":")
            try:
                obj: Any = importlib.import_module(module_name)
                for part in attr.split("."):
                    obj = getattr(obj, part)
            except Exception as exc:  # a broken plug-in must be reported, not crash the caller's start-up
                message = f"scorer {name!r} ({entry.origin}, {entry.target}) failed to load: " \
                          f"{type(exc).__name__}: {exc}"
                print(f"warning: {message}", file=sys.stderr)
                raise ScorerError(message) from exc
            if not callable(obj):
                raise ScorerError(f"scorer {name!r}: {entry.target} is not callable")
            self._factories[name] = obj
        return self._factories[name]

    def create(self, name: str, spec: ScorerSpec | None = None) -> Scorer:
        spec = spec or ScorerSpec()
        scorer = self.factory(name)(spec)
        spec.check_unused(name)
        missing = [a for a in ("higher_is_worse", "default_threshold", "score") if not hasattr(scorer, a)]
        if missing:
            raise ScorerError(f"scorer {name!r} does not implement the Scorer protocol (missing {missing})")
        return scorer


REGISTRY = Registry()


def create_scorer(name: str, spec: ScorerSpec | None = None) -> Scorer:
    return REGISTRY.create(name, spec)


def pick_device(requested: str | None = None) -> str:
    """``cuda`` when a GPU is visible (or what the config asks for), else ``cpu``. Imports torch: call lazily."""
    if requested and requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"
