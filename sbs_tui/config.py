"""Typed settings, read from a TOML file (``--config FILE`` / ``$SBS_CONFIG``) and ``SBS_<SECTION>_<KEY>`` variables.

Every section is a dataclass below, and the dataclass *is* the schema: its fields are the keys, their types are
checked strictly (a string is not a boolean, ``overlap = "three"`` is not a number, a boolean is not a number),
and the metadata carries the documentation and range checks. Sections: ``[gating]``, ``[annotate]`` (with
``[annotate.keys]``), ``[queue]``, ``[policy]``, ``[judge]`` and ``[gates.NAME]``. An unknown section or key is an error that names
the file, the line, the section and the key, with a did-you-mean (``[annotate] reveal_after_vot``, ``[queue]
overlapp``, ``[gatess.toxicity]``): a misspelt setting must never fall back silently to a default — for
``reveal_after_vote`` or ``[gating] required`` that would unblind annotators or show them ungated text.
``docs/configuration.md`` lists every key (a test checks it against these classes).

Why dataclasses and ``tomllib`` rather than pydantic-settings: settings are read by every command, pydantic is
not a dependency, and the whole schema is four small sections; loading costs well under a millisecond.

Environment variables override the file, one scalar key each: ``SBS_GATING_REQUIRED=0``,
``SBS_QUEUE_OVERLAP=3``, ``SBS_ANNOTATE_REVEAL_AFTER_VOTE=true``. Booleans accept 1/0, true/false, yes/no,
on/off; anything else is an error naming the variable. (``SBS_DB``, ``SBS_CONFIG`` and ``SBS_CACHE_DIR`` are
not settings and are not checked here.)

Gate tables ``[gates.NAME]`` are checked for their policy keys (``scorer``, ``backend``, ``model``, ``threshold``,
``blocking``, ``enabled``, ``languages``, ``categories`` — the last checked against ``scorers.taxonomy``); every other key is an option of the scorer's *backend*, which differs per backend and
is checked by the scorer when it is built (``ScorerSpec.check_unused``: a misspelt option is an error with a
did-you-mean). Checking them here would mean importing the scorer registry (~45 ms, and the plug-ins' entry
points) on every command; the registry's scorer descriptions do not list backend options.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sbs_tui.errors import InputError

ENV_PREFIX = "SBS_"
INT_LIMIT = 2**63  # what SQLite's INTEGER holds: a larger setting would fail only when first stored


def setting(default: Any, doc: str, *, at_least: float | None = None, below: float | None = None,
            choices: tuple[str, ...] | None = None) -> Any:
    """A dataclass field that documents and range-checks one key."""
    meta = {"doc": doc, "at_least": at_least, "below": below, "choices": choices}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


# -- the sections ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GatingSettings:
    """``[gating]``: whether annotators see only gated generations."""

    required: bool = setting(True, "only generations that passed every blocking gate reach annotators "
                                   "(false: also those still pending)")


ANNOTATE_ACTIONS = ("vote_left", "vote_right", "vote_tie", "vote_both_bad", "undo", "skip", "flag", "rationale",
                    "criteria", "toggle_markdown", "toggle_sync", "toggle_diff", "show_more", "help", "quit")


@dataclass(frozen=True, slots=True)
class AnnotateSettings:
    """``[annotate]``: how the judging screen behaves. Keys are remapped in ``[annotate.keys]`` by binding id
    (``vote_left = "j"``; several keys comma-separated)."""

    criteria: tuple[str, ...] = setting((), "names of per-criterion judgements (the c key)")
    keys: dict[str, str] = setting({}, "[annotate.keys] binding id = key(s), e.g. vote_left = \"j\"")
    reveal_after_vote: bool = setting(False, "show the model names after each vote")
    markdown: bool = setting(True, "render markdown and code (m toggles raw text)")
    sync_scroll: bool = setting(True, "scroll both answers together (y toggles)")
    truncate_chars: int = setting(20_000, "characters shown per answer before \"show more\"", at_least=1000)
    active_refresh_every: int = setting(200, "votes between background priority refreshes with --strategy "
                                             "active (0 = never)", at_least=0)


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """``[queue]``: defaults for ``sbs queue build`` (the command line wins, then what the queue was last built
    with, then these) and identity hold-back. ``None`` means "not set here"."""

    overlap: int | None = setting(None, "votes each pair collects, from different annotators [1]", at_least=1)
    strategy: str | None = setting(None, "uniform or active [uniform]", choices=("uniform", "active"))
    seed: int | None = setting(None, "seed for pair order and the side shown on the left [0]")
    gold_rate: float | None = setting(None, "share of attention-check pairs served [0]", at_least=0, below=1)
    gold_from: str | None = setting(None, "annotator (e.g. an imported judge) whose confident votes define gold")
    cap: int | None = setting(None, "default maximum votes per annotator", at_least=0)
    max_pairs_per_prompt: int | None = setting(None, "sample at most this many pairs per prompt", at_least=1)
    focus_top: int | None = setting(None, "active strategy: care most about the top K order", at_least=1)
    hold_back_identity: bool = setting(True, "hold back outputs that name their own model")
    identity_patterns: tuple[str, ...] = setting((), "extra identity phrases (regular expressions)")
    replace_identity_patterns: bool = setting(False, "use only identity_patterns, not the built-in phrases")


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """``[policy]``: what happens to generations that no blocking gate can read (read by the gate policy)."""

    uncovered: str = setting("review", "a generation in a language no blocking gate covers: review (held for a "
                                       "lead), pass, or block", choices=("review", "pass", "block"))
    unchecked: str = setting("warn", "a generation with safety categories no blocking gate checked in its language: "
                                     "warn (shown, passed), hold (held for a lead) or fail (blocked)",
                             choices=("warn", "hold", "fail"))
    categories: tuple[str, ...] = setting((), "safety categories to require beyond the core list (insult, "
                                              "obscenity, threat, hate, harassment, sexual, self_harm, violence)")


@dataclass(frozen=True, slots=True)
class JudgeSettings:
    """``[judge]``: the LLM judge of ``sbs judge`` (command-line options win). ``None`` means "not set here";
    the judge module applies its defaults and its own checks."""

    model: str | None = setting(None, "the judge model (API model name or a local folder)")
    annotator: str | None = setting(None, "the annotator name its votes are stored under [judge:MODEL]")
    backend: str | None = setting(None, "api (OpenAI-compatible chat endpoint) or local (causal LM) [api]",
                                  choices=("api", "local"))
    template: str | None = setting(None, "the judging template [alpaca_eval]")
    base_url: str | None = setting(None, "the endpoint [$OPENAI_BASE_URL]")
    api_key_env: str | None = setting(None, "the variable holding the API key [OPENAI_API_KEY]")
    concurrency: int | None = setting(None, "requests in flight", at_least=1)
    requests_per_minute: float | None = setting(None, "request rate limit", at_least=0)
    tokens_per_minute: float | None = setting(None, "token rate limit", at_least=0)
    timeout: float | None = setting(None, "seconds per request", at_least=0)
    max_retries: int | None = setting(None, "retries per request", at_least=0)
    logprobs: bool | None = setting(None, "weight verdicts by the first token's probabilities [true]")
    top_logprobs: int | None = setting(None, "log-probabilities asked for per token, 1-20 [5]", at_least=1,
                                       below=21)
    price_input_per_mtok: float | None = setting(None, "price per million input tokens (for the cost line)",
                                                 at_least=0)
    price_output_per_mtok: float | None = setting(None, "price per million output tokens", at_least=0)
    device: str | None = setting(None, "local backend: cpu, cuda, ...")
    batch_size: int | None = setting(None, "local backend: prompts per batch", at_least=1)
    max_length: int | None = setting(None, "local backend: maximum tokens per prompt", at_least=1)


GATE_POLICY_KEYS: dict[str, tuple[type, str]] = {  # key -> (type, as checked by _typed; doc)
    "scorer": (str, "the scorer, when the gate's name is not a scorer's name"),
    "backend": (str, "the scorer's backend (e.g. \"hf\", \"api\")"),
    "model": (str, "a local model folder or hub id"),
    "threshold": (float, "score at which the gate fails (a finite number)"),
    "blocking": (bool, "failing keeps the generation from annotators"),
    "enabled": (bool, "false switches a default gate off"),
    "languages": (tuple[str, ...], "the languages this gate reads (ISO 639-1 codes, or \"*\")"),
    "categories": (tuple[str, ...], "the safety categories this gate checks (docs/gates.md's taxonomy)"),
}

SECTIONS: dict[str, type] = {"gating": GatingSettings, "annotate": AnnotateSettings, "queue": QueueSettings,
                             "policy": PolicySettings, "judge": JudgeSettings}
TABLES_OF_TABLES = ("gates", "models", "arena")  # [models.NAME], [arena]: checked by core.generation / core.arena
SUBTABLES = {("annotate", "keys")}


# -- the settings object ---------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Settings:
    """Every section, validated. ``raw`` is the TOML document (env overrides merged); ``source`` the file."""

    source: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    text: str | None = field(default=None, repr=False)  # the file's text, to name lines in errors
    env: dict[str, str] | None = field(default=None, repr=False)  # None: os.environ
    gating: GatingSettings = field(init=False)
    annotate: AnnotateSettings = field(init=False)
    queue: QueueSettings = field(init=False)
    policy: PolicySettings = field(init=False)
    judge: JudgeSettings = field(init=False)

    def __post_init__(self) -> None:
        self.raw = _with_env(self.raw, os.environ if self.env is None else self.env)
        _check_sections(self.raw, self)
        self.gating = _build(GatingSettings, "gating", self)
        self.annotate = _build(AnnotateSettings, "annotate", self)
        self.queue = _build(QueueSettings, "queue", self)
        self.policy = _build(PolicySettings, "policy", self)
        self.judge = _build(JudgeSettings, "judge", self)
        _check_gates(self.raw.get("gates", {}), self)
        _check_patterns(self)

    def error(self, message: str, section: str, key: str | None = None) -> InputError:
        """An input error naming the file (and line, when it can be found), the section and the key."""
        dotted = f"{section}.{key}" if key else section
        return InputError(message, file=self.source, line=_line_of(self.text, section, key), field=dotted)

    def section(self, name: str) -> dict[str, Any]:
        """A top-level or dotted section (``"gates.toxicity"``) as a dict; empty if absent."""
        node: Any = self.raw
        for part in name.split("."):
            if not isinstance(node, dict):
                return {}
            node = node.get(part, {})
        if not isinstance(node, dict):
            raise self.error("must be a table", name)
        return node

    @property
    def gate_tables(self) -> dict[str, Any]:
        """``[gates.NAME]`` tables by name (policy keys checked here; applied by
        :func:`sbs_tui.core.gating.load_policy`)."""
        return self.section("gates")

    @property
    def gating_required(self) -> bool:
        return self.gating.required


def load_settings(path: str | os.PathLike[str] | None = None, *, env: dict[str, str] | None = None) -> Settings:
    """Read and validate settings; a missing explicit file, invalid TOML, an unknown section or key, or a value
    of the wrong type is an input error (exit 2)."""
    environ = os.environ if env is None else env
    path = path if path is not None else environ.get("SBS_CONFIG")
    if not path:
        return Settings(env=env)
    p = Path(path)
    raw, text = _read_toml(p)
    return Settings(source=str(p), raw=raw, text=text, env=env)


def _read_toml(p: Path) -> tuple[dict[str, Any], str]:
    """The file's TOML and text; every way it cannot be read is one input error naming the file (and the line,
    where there is one): a directory, bytes that are not UTF-8, invalid or absurdly nested TOML."""
    if p.is_dir():
        raise InputError("is a directory, not a config file", file=str(p))
    if not p.is_file():
        raise InputError("config file not found", file=str(p))
    try:
        data = p.read_bytes()
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte offset {exc.start})", file=str(p),
                         line=data.count(b"\n", 0, exc.start) + 1) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(p)) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=str(p)) from None
    except RecursionError:
        raise InputError("invalid TOML: nested too deeply (arrays or tables inside one another)", file=str(p)) from None


def annotate_settings(settings: Settings) -> AnnotateSettings:
    """``[annotate]`` (kept for callers of the untyped era; prefer ``settings.annotate``)."""
    return settings.annotate


def queue_section(settings: Settings) -> dict[str, Any]:
    """The ``[queue]`` keys that are *set* (file or environment), validated, as a dict: ``sbs queue build`` merges
    them under the command line and what the queue was last built with."""
    return dict(settings.section("queue"))


# -- validation ------------------------------------------------------------------------------------------------------

def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_sections(raw: dict[str, Any], s: Settings) -> None:
    known = [*SECTIONS, *TABLES_OF_TABLES]
    for name, value in raw.items():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            # [gatess.toxicity] is a table of tables: name the whole header, and suggest the whole header
            child = next(iter(value), None) if isinstance(value, dict) else None
            tail = f".{child}" if child is not None and isinstance(value[child], dict) else ""
            shown = f"[{name}{tail}]" if isinstance(value, dict) else repr(name)
            hint = f"; did you mean [{close[0]}{tail}]?" if close else ""
            raise s.error(f"unknown section {shown}{hint} (known sections: {', '.join(known)})", name)
        if not isinstance(value, dict):
            raise s.error(f"must be a table ([{name}]), not {_kind(value)}", name)


def _build(cls: type, section: str, s: Settings) -> Any:
    table = s.raw.get(section, {})
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in names:
            hint = _did_you_mean(key, names)
            raise s.error(f"unknown key in [{section}]{hint} (known: {', '.join(names)})", section, key)
    for f in fields(cls):
        if f.name not in table:
            continue
        if (section, f.name) in SUBTABLES:
            values[f.name] = _subtable(section, f.name, table[f.name], s)
            continue
        value = _typed(table[f.name], hints[f.name], lambda msg, k=f.name: s.error(msg, section, k))
        _check_range(value, f.metadata, lambda msg, k=f.name: s.error(msg, section, k))
        values[f.name] = value
    return cls(**values)


def _subtable(section: str, key: str, value: Any, s: Settings) -> dict[str, str]:
    """``[annotate.keys]``: binding id → key name(s)."""
    where = f"{section}.{key}"
    if not isinstance(value, dict):
        raise s.error(f"must be a table ([{where}]), not {_kind(value)}", section, key)
    for action, bound in value.items():
        if action not in ANNOTATE_ACTIONS:
            raise s.error(f"unknown action{_did_you_mean(action, list(ANNOTATE_ACTIONS))} "
                          f"(known: {', '.join(ANNOTATE_ACTIONS)})", where, action)
        if not isinstance(bound, str) or not bound.strip():
            raise s.error("must be a key name such as \"j\" or \"ctrl+j\"", where, action)
    return dict(value)


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "a table"}
    shown = repr(value) if not isinstance(value, (dict, list)) else ""
    return names.get(type(value), type(value).__name__) + (f" ({shown})" if shown and len(shown) < 40 else "")


def _typed(value: Any, hint: Any, error: Any) -> Any:
    """``value`` checked against a field's type: bool, int, float, str, ``X | None``, ``tuple[str, ...]``,
    ``dict[str, str]``. Strict: no conversions except int → float (and a list → tuple)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _typed(value, inner[0], error)
    if hint is bool:
        if not isinstance(value, bool):
            raise error(f"must be true or false, not {_kind(value)}")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise error(f"must be an integer, not {_kind(value)}")
        if not -INT_LIMIT < value < INT_LIMIT:  # the database stores 64-bit integers
            raise error(f"must be below {INT_LIMIT:,} (2**63), not {_kind(value)}")
        return value
    if hint is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise error(f"must be a number, not {_kind(value)}")
        if not math.isfinite(value):
            raise error("must be a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise error(f"must be a string, not {_kind(value)}")
        return value
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise error(f"must be a list of non-empty strings, not {_kind(value)}")
        return tuple(v.strip() for v in value)
    raise TypeError(f"unsupported setting type {hint!r}")  # a programming error in the schema above


def _check_range(value: Any, meta: Any, error: Any) -> None:
    if value is None:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise error(f"must be one of {', '.join(meta['choices'])}, not {value!r}"
                    f"{_did_you_mean(str(value), list(meta['choices']))}")
    if meta.get("at_least") is not None and value < meta["at_least"]:
        raise error(f"must be at least {meta['at_least']:g}" + (f" and below {meta['below']:g}"
                                                                 if meta.get("below") is not None else ""))
    if meta.get("below") is not None and value >= meta["below"]:
        raise error(f"must be below {meta['below']:g}")


def _check_patterns(s: Settings) -> None:
    """``[queue] identity_patterns`` compile (an invalid one used to surface only at ``queue build``, without
    the file and line)."""
    for pattern in s.queue.identity_patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise s.error(f"invalid regular expression {pattern!r}: {exc}", "queue", "identity_patterns") from None


def _check_gates(gates: dict[str, Any], s: Settings) -> None:
    for name, table in gates.items():
        section = f"gates.{name}"
        if not isinstance(table, dict):
            raise s.error(f"must be a table ([gates.{name}]), not {_kind(table)}", "gates", name)
        for key, (kind, _doc) in GATE_POLICY_KEYS.items():
            if key in table:  # checked, not converted: gating reads the table itself
                _typed(table[key], kind, lambda msg, k=key: s.error(msg, section, k))
        if "categories" in table:
            _check_categories(table["categories"], s, section)
    if "categories" in s.raw.get("policy", {}):
        _check_categories(s.raw["policy"]["categories"], s, "policy")


def _check_categories(names: Any, s: Settings, section: str) -> None:
    """Safety category names against the one taxonomy (a small standard-library module, cheap to import)."""
    from scorers.taxonomy import check_categories

    try:
        check_categories(list(names), where="categories")
    except ValueError as exc:
        raise s.error(str(exc).removeprefix("categories: "), section, "categories") from None


# -- environment -----------------------------------------------------------------------------------------------------

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _with_env(raw: dict[str, Any], env: Any) -> dict[str, Any]:
    """``raw`` with ``SBS_<SECTION>_<KEY>`` variables applied (copied, never mutated)."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for var, text in env.items():
        if not var.startswith(ENV_PREFIX) or text == "":
            continue
        rest = var[len(ENV_PREFIX):]
        section = next((name for name in SECTIONS if rest.startswith(name.upper() + "_")), None)
        if section is None:
            continue
        cls = SECTIONS[section]
        key = rest[len(section) + 1:].lower()
        scalar = {f.name: f for f in fields(cls) if (section, f.name) not in SUBTABLES
                  and typing.get_origin(typing.get_type_hints(cls)[f.name]) is not tuple}
        if key not in scalar:
            options = [f"{ENV_PREFIX}{section.upper()}_{k.upper()}" for k in scalar]
            raise InputError(f"unknown setting{_did_you_mean(var, options)} (known: {', '.join(options)})",
                             field=var)
        hint = typing.get_type_hints(cls)[key]
        inner = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        target = merged.setdefault(section, {})
        if not isinstance(target, dict):
            continue  # reported as "must be a table" with the file's name
        target[key] = _from_env(var, text, inner[0])
    return merged


def _from_env(var: str, text: str, kind: Any) -> Any:
    value = text.strip()
    if kind is bool:
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise InputError(f"must be one of {'/'.join(_TRUE)} or {'/'.join(_FALSE)}, not {text!r}", field=var)
    if kind is int:
        if not re.fullmatch(r"[+-]?\d{1,18}", value):
            raise InputError(f"must be an integer, not {text!r}", field=var)
        return int(value)
    if kind is float:
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"must be a number, not {text!r}", field=var) from None
        if not math.isfinite(number):
            raise InputError("must be a finite number", field=var)
        return number
    return text


# -- where in the file -----------------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]#]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*(?:\"([^\"]+)\"|'([^']+)'|([A-Za-z0-9_.\s-]+?))\s*=")


def _line_of(text: str | None, section: str, key: str | None) -> int | None:
    """Best effort: the line of ``key`` in ``[section]`` (or of the section's header), for ``FILE:LINE``."""
    if not text:
        return None
    current = ""
    header_line = None
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            current = re.sub(r"\s*\.\s*", ".", header.group(1)).replace('"', "").replace("'", "")
            if key is not None and current == f"{section}.{key}":  # [annotate.kyes]: the key is a sub-table
                return number
            if header_line is None and (current == section or current.startswith(section + ".")):
                header_line = number
                if key is None:
                    return number
            continue
        match = _KEY.match(line)
        name = match and (match.group(1) or match.group(2) or re.sub(r"\s*\.\s*", ".", match.group(3)))
        dotted = ".".join(filter(None, (current, name))) if name else ""
        if key is not None and (dotted == f"{section}.{key}" or dotted.startswith(f"{section}.{key}.")):
            return number  # also a dotted key: queue.overlpa = 3 at the top, or foo.bar = 1 under [gating]
        if name and key is None and current == "" and name == section:  # queue = 3 (not a table)
            return number
    return header_line
