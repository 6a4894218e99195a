"""Loading settings: a TOML file (``--config FILE`` / ``$SBS_CONFIG``) and ``SBS_<SECTION>_<KEY>`` variables.

The schema is :mod:`sbs_tui.core.settings` (each key's type, default, documentation and range, written once);
this module only reads. Types are checked strictly (a string is not a boolean, ``overlap = "three"`` is not a
number, a boolean is not a number). An unknown section or key is an error that names the file, the line, the
section and the key, with a did-you-mean (``[annotate] reveal_after_vot``, ``[queue] overlapp``,
``[gatess.toxicity]``): a misspelt setting must never fall back silently to a default — for
``reveal_after_vote`` or ``[gating] required`` that would unblind annotators or show them ungated text. Range
errors raised by a section's own check get the file and line added here. ``docs/configuration.md`` lists every
key (a test checks it against the schema).

Why dataclasses and ``tomllib`` rather than pydantic-settings: settings are read by every command, pydantic is
not a dependency, and the whole schema is a few small sections; loading costs well under a millisecond.

Environment variables override the file, one scalar key each: ``SBS_GATING_REQUIRED=0``,
``SBS_QUEUE_OVERLAP=3``, ``SBS_ANNOTATE_REVEAL_AFTER_VOTE=true``. Booleans accept 1/0, true/false, yes/no,
on/off; anything else is an error naming the variable. (``SBS_DB``, ``SBS_CONFIG`` and ``SBS_CACHE_DIR`` are
not settings and are not checked here.)

Gate tables ``[gates.NAME]`` are checked for their policy keys (``scorer``, ``backend``, ``model``, ``threshold``,
``blocking``, ``enabled``, ``languages``, ``categories`` — the last checked against ``scorers.taxonomy``); every
other key is an option of the scorer's *backend*, which differs per backend and
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
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sbs_tui.core.settings import (ANNOTATE_ACTIONS, GATE_POLICY_KEYS, SECTIONS, TABLE_SECTIONS, AnnotateSettings,
                                   GatingSettings, JudgeSettings, PolicySettings, QueueSettings, Settings)
from sbs_tui.errors import InputError

__all__ = ["ANNOTATE_ACTIONS", "GATE_POLICY_KEYS", "SECTIONS", "AnnotateSettings", "GatingSettings", "JudgeSettings",
           "PolicySettings", "QueueSettings", "Settings", "load_settings", "parse_settings"]

ENV_PREFIX = "SBS_"
INT_LIMIT = 2**63  # what SQLite's INTEGER holds: a larger setting would fail only when first stored

TABLES_OF_TABLES = ("gates", *TABLE_SECTIONS)  # [gates.NAME] (checked below), [models.NAME] (typed, each table)
SUBTABLES = {("annotate", "keys")}


def parse_settings(raw: dict[str, Any], *, source: str | None = None, text: str | None = None,
                   env: Mapping[str, str] | None = None) -> Settings:
    """A TOML document (as parsed) with ``SBS_*`` variables applied on top, checked and typed. ``env`` defaults
    to no variables (``load_settings`` passes ``os.environ``); ``text`` is the file's text, to name lines."""
    ctx = _Where(source, text)
    merged = _with_env(raw, env or {})
    _check_sections(merged, ctx)
    sections = {name: _build(cls, name, merged.get(name, {}), ctx) for name, cls in SECTIONS.items()}
    gates = merged.get("gates", {})
    _check_gates(gates, ctx)
    if "categories" in merged.get("policy", {}):
        _check_categories(merged["policy"]["categories"], ctx, "policy")
    _check_patterns(sections["queue"], ctx)
    models = _build_tables(TABLE_SECTIONS["models"], "models", merged.get("models", {}), ctx)
    return Settings(**sections, gates=gates, models=models, source=source, where=ctx)


def load_settings(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; a missing explicit file, invalid TOML, an unknown section or key, or a value
    of the wrong type is an input error (exit 2). ``env`` defaults to ``os.environ``."""
    environ = os.environ if env is None else env
    path = path if path is not None else environ.get("SBS_CONFIG")
    if not path:
        return parse_settings({}, env=environ)
    p = Path(path)
    raw, text = _read_toml(p)
    return parse_settings(raw, source=str(p), text=text, env=environ)


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
        raise InputError("invalid TOML: nested too deeply (arrays or tables inside one another)",
                         file=str(p)) from None


@dataclass(frozen=True, slots=True)
class _Where:
    """The file being read, to name it (and the line) in errors."""

    source: str | None
    text: str | None

    def error(self, message: str, section: str, key: str | None = None) -> InputError:
        """An input error naming the file (and line, when it can be found), the section and the key."""
        dotted = f"{section}.{key}" if key else section
        return InputError(message, file=self.source, line=_line_of(self.text, section, key), field=dotted)


# -- validation ------------------------------------------------------------------------------------------------------

def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_sections(raw: dict[str, Any], s: _Where) -> None:
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


def _build(cls: type, section: str, table: dict[str, Any], s: _Where) -> Any:
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
        values[f.name] = _typed(table[f.name], hints[f.name], lambda msg, k=f.name: s.error(msg, section, k))
    try:
        return cls(**values)  # the section checks its ranges itself (core.settings)
    except InputError as exc:
        raise s.error(exc.message, section, (exc.field or "").partition(".")[2] or None) from None


def _build_tables(cls: type, section: str, tables: dict[str, Any], s: _Where) -> dict[str, Any]:
    """``[models.NAME]``: each table typed by ``cls``, its errors naming ``models.NAME.key`` and the line."""
    built = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise s.error(f"must be a table ([{section}.{name}]), not {_kind(table)}", section, name)
        built[name] = _build(cls, f"{section}.{name}", table, s)
    return built


def _subtable(section: str, key: str, value: Any, s: _Where) -> dict[str, str]:
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


def _check_gates(gates: dict[str, Any], s: _Where) -> None:
    for name, table in gates.items():
        section = f"gates.{name}"
        if not isinstance(table, dict):
            raise s.error(f"must be a table ([gates.{name}]), not {_kind(table)}", "gates", name)
        for key, (kind, _doc) in GATE_POLICY_KEYS.items():
            if key in table:  # checked, not converted: gating reads the table itself
                _typed(table[key], kind, lambda msg, k=key: s.error(msg, section, k))
        if "categories" in table:
            _check_categories(table["categories"], s, section)
        policy = list(GATE_POLICY_KEYS)
        for key in table:  # other keys are the backend's options; a near-miss of a policy key is a typo
            close = difflib.get_close_matches(key, policy, n=1, cutoff=0.8) if key not in policy else []
            if close:
                raise s.error(f"unknown key; did you mean {close[0]!r}? (policy keys: {', '.join(policy)}; other "
                              "keys are options of the scorer's backend)", section, key)


def _check_categories(names: Any, s: _Where, section: str) -> None:
    """Safety category names against the one taxonomy (a small standard-library module, cheap to import)."""
    from scorers.taxonomy import check_categories

    try:
        check_categories(list(names), where="categories")
    except ValueError as exc:
        raise s.error(str(exc).removeprefix("categories: "), section, "categories") from None


def _check_patterns(queue: Any, s: _Where) -> None:
    """``[queue] identity_patterns`` compile (an invalid one used to surface only at ``queue build``, without
    the file and line)."""
    for pattern in queue.identity_patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise s.error(f"invalid regular expression {pattern!r}: {exc}", "queue", "identity_patterns") from None


# -- environment -----------------------------------------------------------------------------------------------------

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _with_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
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
