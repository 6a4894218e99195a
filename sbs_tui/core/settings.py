"""The one settings schema: every section of the TOML file as a frozen dataclass (standard library only).

Why here, in core: the feature code takes its section typed (``judge_config(settings.judge, model=...)``,
``BuildOptions.resolve(..., settings.queue)``, ``settings.policy.uncovered``), so each key's name, type, default
and range is written **once**, on its field below, and nowhere else. ``sbs_tui.config`` only *loads*: it reads
the TOML file and the ``SBS_<SECTION>_<KEY>`` variables, checks the value types strictly and names the file and
line of a bad key; the range checks run here, in each section's ``__post_init__``, so a command-line override
(``dataclasses.replace(settings.judge, requests_per_minute=0)``) is checked by the same rule as the file. The CLI
shows these defaults in ``--help`` by reading them (:func:`default_of`), never by writing them again.

``[gates.NAME]`` tables stay mappings (:attr:`Settings.gates`): their policy keys are typed by ``config``, and
every other key is an option of the scorer's backend, different per backend and checked when it is built.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sbs_tui.errors import InputError


def setting(default: Any, doc: str, *, at_least: float | None = None, above: float | None = None,
            below: float | None = None, at_most: float | None = None,
            choices: tuple[str, ...] | None = None) -> Any:
    """A dataclass field that documents and range-checks one key (checked by :func:`check_ranges`)."""
    meta = {"doc": doc, "at_least": at_least, "above": above, "below": below, "at_most": at_most,
            "choices": choices}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def default_of(cls: type, name: str) -> Any:
    """A field's declared default: what ``--help`` shows for the option that overrides it."""
    for f in fields(cls):
        if f.name == name:
            if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            return f.default
    raise KeyError(f"{cls.__name__} has no setting {name!r}")


def doc_of(cls: type, name: str) -> str:
    """A field's one-line documentation (for ``--help``)."""
    return str(next(f for f in fields(cls) if f.name == name).metadata["doc"])


def check_ranges(obj: Any, section: str) -> None:
    """Every field of a section against its metadata; an :class:`InputError` naming ``section.key``."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        meta = f.metadata
        if value is None or not meta:
            continue
        error = f"{section}.{f.name}"
        choices = meta.get("choices")
        if choices and value not in choices:
            close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"must be one of {', '.join(choices)}, not {value!r}{hint}", field=error)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        low, above = meta.get("at_least"), meta.get("above")
        below, most = meta.get("below"), meta.get("at_most")
        upper = (f" and below {below:g}" if below is not None
                 else f" and at most {most:g}" if most is not None else "")
        if low is not None and value < low:
            raise InputError(f"must be at least {low:g}{upper}", field=error)
        if above is not None and value <= above:
            raise InputError(f"must be above {above:g}{upper}", field=error)
        if below is not None and value >= below:
            raise InputError(f"must be below {below:g}", field=error)
        if most is not None and value > most:
            lower = (f"at least {low:g} and " if low is not None else f"above {above:g} and "
                     if above is not None else "")
            raise InputError(f"must be {lower}at most {most:g}", field=error)


class _Section:
    """Range-checks a section when it is made (from the file, the environment or a command-line override)."""

    __slots__ = ()
    SECTION = ""

    def __post_init__(self) -> None:
        check_ranges(self, self.SECTION)


# -- the sections ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GatingSettings(_Section):
    """``[gating]``: whether annotators see only gated generations."""

    SECTION = "gating"
    required: bool = setting(True, "only generations that passed every blocking gate reach annotators "
                                   "(false: also those still pending)")


ANNOTATE_ACTIONS = ("vote_left", "vote_right", "vote_tie", "vote_both_bad", "undo", "skip", "flag", "rationale",
                    "criteria", "toggle_markdown", "toggle_sync", "toggle_diff", "show_more", "help", "quit")


@dataclass(frozen=True, slots=True)
class AnnotateSettings(_Section):
    """``[annotate]``: how the judging screen behaves. Keys are remapped in ``[annotate.keys]`` by binding id
    (``vote_left = "j"``; several keys comma-separated)."""

    SECTION = "annotate"
    criteria: tuple[str, ...] = setting((), "names of per-criterion judgements (the c key)")
    keys: dict[str, str] = setting({}, "[annotate.keys] binding id = key(s), e.g. vote_left = \"j\"")
    reveal_after_vote: bool = setting(False, "show the model names after each vote")
    markdown: bool = setting(True, "render markdown and code (m toggles raw text)")
    sync_scroll: bool = setting(True, "scroll both answers together (y toggles)")
    truncate_chars: int = setting(20_000, "characters shown per answer before \"show more\"", at_least=1000)
    active_refresh_every: int = setting(200, "votes between background priority refreshes with --strategy "
                                             "active (0 = never)", at_least=0)


QUEUE_STRATEGIES = ("uniform", "active")


@dataclass(frozen=True, slots=True)
class QueueSettings(_Section):
    """``[queue]``: ``sbs queue build``'s options and identity hold-back. What wins: the command line, then what
    the queue was last built with, then this section (file or ``SBS_QUEUE_*``), then these defaults."""

    SECTION = "queue"
    overlap: int = setting(1, "votes each pair collects, from different annotators", at_least=1)
    strategy: str = setting("uniform", "uniform: random order; active: pairs whose next vote most reduces ranking "
                                       "uncertainty first", choices=QUEUE_STRATEGIES)
    seed: int = setting(0, "seed for pair order and the side shown on the left")
    gold_rate: float = setting(0.0, "share of attention-check pairs served", at_least=0, below=1)
    gold_from: str | None = setting(None, "annotator (e.g. an imported judge) whose confident votes define gold")
    cap: int | None = setting(None, "default maximum votes per annotator", at_least=0)
    max_pairs_per_prompt: int | None = setting(None, "sample at most this many pairs per prompt", at_least=1)
    focus_top: int | None = setting(None, "active strategy: care most about the top K order", at_least=1)
    hold_back_identity: bool = setting(True, "hold back outputs that name their own model")
    identity_patterns: tuple[str, ...] = setting((), "extra identity phrases (regular expressions)")
    replace_identity_patterns: bool = setting(False, "use only identity_patterns, not the built-in phrases")


UNCOVERED_POLICIES = ("review", "pass", "block")
UNCHECKED_POLICIES = ("warn", "hold", "fail")


@dataclass(frozen=True, slots=True)
class PolicySettings(_Section):
    """``[policy]``: what happens to generations that no blocking gate can read (read by the gate policy)."""

    SECTION = "policy"
    uncovered: str = setting("review", "a generation in a language no blocking gate covers: review (held for a "
                                       "lead), pass, or block", choices=UNCOVERED_POLICIES)
    unchecked: str = setting("warn", "a generation with safety categories no blocking gate checked in its language: "
                                     "warn (shown, passed), hold (held for a lead) or fail (blocked)",
                             choices=UNCHECKED_POLICIES)
    categories: tuple[str, ...] = setting((), "safety categories to require beyond the core list (insult, "
                                              "obscenity, threat, hate, harassment, sexual, self_harm, violence)")


@dataclass(frozen=True, slots=True)
class JudgeSettings(_Section):
    """``[judge]``: the LLM judge of ``sbs judge`` (command-line options win). ``None`` means "none" (no limit, no
    price) or, for ``timeout``/``max_retries``, the HTTP client's own default."""

    SECTION = "judge"
    model: str | None = setting(None, "the judge model (API model name or a local folder)")
    annotator: str | None = setting(None, "the annotator name its votes are stored under (none: judge:MODEL)")
    backend: str = setting("api", "api (OpenAI-compatible chat endpoint) or local (causal LM)",
                           choices=("api", "local"))
    template: str = setting("alpaca_eval", "the judging template: alpaca_eval, mt_bench, or a TOML file")
    base_url: str | None = setting(None, "the endpoint (none: $OPENAI_BASE_URL, then OpenAI)")
    api_key_env: str = setting("OPENAI_API_KEY", "the variable holding the API key")
    concurrency: int = setting(16, "requests in flight", at_least=1)
    requests_per_minute: float | None = setting(None, "request rate limit (none: no limit)", above=0)
    tokens_per_minute: float | None = setting(None, "token rate limit (none: no limit)", above=0)
    timeout: float | None = setting(None, "seconds per request", above=0)
    max_retries: int | None = setting(None, "retries per request", at_least=0)
    logprobs: bool = setting(True, "weight verdicts by the first token's probabilities")
    top_logprobs: int = setting(5, "log-probabilities asked for per token, 1-20", at_least=1, below=21)
    price_input_per_mtok: float | None = setting(None, "price per million input tokens (for the cost line)",
                                                 at_least=0)
    price_output_per_mtok: float | None = setting(None, "price per million output tokens", at_least=0)
    device: str | None = setting(None, "local backend: cpu, cuda, ...")
    batch_size: int | None = setting(None, "local backend: prompts per batch", at_least=1)
    max_length: int | None = setting(None, "local backend: maximum tokens per prompt", at_least=1)


@dataclass(frozen=True, slots=True)
class ModelSettings(_Section):
    """``[models.NAME]``: one model ``sbs generate --model NAME`` and ``sbs arena`` may use (``None``: not sent,
    or the client's own default). The answer-making keys (backend, model, temperature, max_tokens, top_p, seed,
    system) are hashed into the stored answers' ``params_hash`` by ``core.generate.generation``."""

    SECTION = "models"
    base_url: str | None = setting(None, "OpenAI-compatible endpoint, e.g. http://vllm:8000/v1 "
                                         "(none: $OPENAI_BASE_URL, then OpenAI)")
    model: str | None = setting(None, "the served model name (backend api) or a causal LM folder (backend local; "
                                      "none: NAME)")
    backend: str = setting("api", "api (chat completions, streamed) or local (transformers)",
                           choices=("api", "local"))
    temperature: float = setting(1.0, "sampling temperature, 0-2", at_least=0, at_most=2)
    max_tokens: int = setting(1024, "most tokens per answer", at_least=1)
    top_p: float | None = setting(None, "nucleus sampling, (0, 1] (none: not sent)", above=0, at_most=1)
    seed: int | None = setting(None, "sampling seed (none: not sent)")
    system: str | None = setting(None, "a system message sent before each prompt")
    api_key_env: str = setting("OPENAI_API_KEY", "the variable holding the API key")
    price_input_per_1k: float | None = setting(None, "price per 1,000 input tokens (for the cost column)",
                                               at_least=0)
    price_output_per_1k: float | None = setting(None, "price per 1,000 output tokens", at_least=0)
    concurrency: int = setting(16, "requests in flight per model", at_least=1, at_most=1024)
    requests_per_minute: float | None = setting(None, "request rate limit (none: no limit)", above=0)
    tokens_per_minute: float | None = setting(None, "token rate limit (none: no limit)", above=0)
    timeout: float | None = setting(None, "seconds per request (none: the client's default)", above=0)
    max_retries: int | None = setting(None, "retries per request (none: the client's default)", at_least=0)
    device: str | None = setting(None, "local backend: cpu, cuda, ... (none: best available)")


@dataclass(frozen=True, slots=True)
class ArenaSettings(_Section):
    """``[arena]``: ``sbs arena``'s live battles. That ``models`` names at least two declared ``[models.NAME]``
    tables with backend api is a rule across sections, checked by ``core.generate.arena.load_arena``."""

    SECTION = "arena"
    models: tuple[str, ...] = setting((), "names of [models.NAME] tables to draw pairs from (at least two)")
    battles_per_minute: float = setting(6.0, "most battles one annotator may start in a minute", above=0)
    timeout: float = setting(120.0, "seconds a model has to finish its answer", above=0)
    stall_timeout: float = setting(20.0, "seconds without a new token before a model counts as not answering",
                                   above=0)
    gate_timeout: float = setting(120.0, "seconds the background gates may take on a battle's answers", above=0)
    web: bool = setting(False, "annotators may open the arena in the browser through sbs serve (/?app=arena)")
    budget: float | None = setting(None, "the campaign's arena budget, in the currency of the models' prices "
                                         "(none: no budget); the arena stops drawing pairs once it is spent",
                                   at_least=0)


SECTIONS: dict[str, type] = {"gating": GatingSettings, "annotate": AnnotateSettings, "queue": QueueSettings,
                             "policy": PolicySettings, "judge": JudgeSettings, "arena": ArenaSettings}
#: Tables of tables: ``[models.NAME]`` → one section per NAME, each typed by its class.
TABLE_SECTIONS: dict[str, type] = {"models": ModelSettings}

GATE_POLICY_KEYS: dict[str, tuple[type, str]] = {  # key -> (type, doc); checked by config, applied by gating
    "scorer": (str, "the scorer, when the gate's name is not a scorer's name"),
    "backend": (str, "the scorer's backend (e.g. \"hf\", \"api\")"),
    "model": (str, "a local model folder or hub id"),
    "threshold": (float, "score at which the gate fails (a finite number)"),
    "blocking": (bool, "failing keeps the generation from annotators"),
    "enabled": (bool, "false switches a default gate off"),
    "languages": (tuple[str, ...], "the languages this gate reads (ISO 639-1 codes, or \"*\")"),
    "categories": (tuple[str, ...], "the safety categories this gate checks (docs/gates.md's taxonomy)"),
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every section, validated (``sbs_tui.config.load_settings`` builds it from a file and the environment;
    ``Settings()`` is every default). ``source`` names the file for errors raised later (gates, templates)."""

    gating: GatingSettings = field(default_factory=GatingSettings)
    annotate: AnnotateSettings = field(default_factory=AnnotateSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    arena: ArenaSettings = field(default_factory=ArenaSettings)
    gates: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: ``[models.NAME]`` tables (``sbs generate``'s and ``sbs arena``'s models), by NAME.
    models: Mapping[str, ModelSettings] = field(default_factory=dict)
    source: str | None = None
    #: Where the settings were read from (``config._Where``: file and text), to name the line in later errors.
    where: Any = field(default=None, repr=False, compare=False)

    def error(self, message: str, section: str, key: str | None = None) -> InputError:
        """An input error naming the file (and the line, when the settings came from a file), section and key:
        for keys checked after loading (``[models.NAME]``, gate options)."""
        if self.where is not None:
            return self.where.error(message, section, key)
        return InputError(message, file=self.source, field=f"{section}.{key}" if key else section)
