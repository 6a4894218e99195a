"""One settings object, read from a TOML file (``--config FILE`` / ``$SBS_CONFIG``) and ``SBS_*`` variables.

Why plain dataclasses and ``tomllib``: settings are read by every command, including ``sbs --help`` paths,
so loading them must cost nothing; each feature reads its own section and validates it where it is used,
naming the file and the key on error.

Sections (each feature documents its keys in the README):
  [gating]       required = true          only generations that passed every blocking gate reach annotators
  [gates.NAME]   backend, model, threshold, blocking, ...   (see scorers/)
  [annotate]     criteria = [...], gold_rate, hold_back_identity, [annotate.keys] action = "key"
  [queue]        overlap, strategy, seed
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbs_tui.errors import InputError


@dataclass(slots=True)
class Settings:
    source: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        """A top-level or dotted section (``"gates.toxicity"``) as a dict; empty if absent."""
        node: Any = self.raw
        for part in name.split("."):
            if not isinstance(node, dict):
                return {}
            node = node.get(part, {})
        if not isinstance(node, dict):
            raise InputError(f"[{name}] must be a table", file=self.source)
        return node

    @property
    def gate_tables(self) -> dict[str, Any]:
        """``[gates.NAME]`` tables by name (validated by :func:`sbs_tui.core.gating.load_policy`)."""
        return self.section("gates")

    @property
    def gating_required(self) -> bool:
        env = os.environ.get("SBS_GATING_REQUIRED")
        if env is not None:
            return env.strip().lower() not in ("0", "false", "no", "off")
        return bool(self.section("gating").get("required", True))


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read settings; a missing explicit file or invalid TOML is an input error (exit 2)."""
    path = path if path is not None else os.environ.get("SBS_CONFIG")
    if not path:
        return Settings()
    p = Path(path)
    if not p.is_file():
        raise InputError("config file not found", file=str(p))
    try:
        with p.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=str(p)) from exc
    return Settings(source=str(p), raw=raw)


# -- annotate / queue ------------------------------------------------------------------------------------------------

ANNOTATE_ACTIONS = ("vote_left", "vote_right", "vote_tie", "vote_both_bad", "undo", "skip", "flag", "rationale",
                    "criteria", "toggle_markdown", "toggle_sync", "toggle_diff", "show_more", "help", "quit")


@dataclass(slots=True, frozen=True)
class AnnotateSettings:
    """``[annotate]``: how the judging screen behaves. Keys are remapped in ``[annotate.keys]`` by binding id
    (``vote_left = "j"``; several keys comma-separated)."""

    criteria: tuple[str, ...] = ()
    keys: dict[str, str] = field(default_factory=dict)
    reveal_after_vote: bool = False
    markdown: bool = True
    sync_scroll: bool = True
    truncate_chars: int = 20_000
    active_refresh_every: int = 200


def annotate_settings(settings: Settings) -> AnnotateSettings:
    section = settings.section("annotate")
    where = settings.source
    criteria = section.get("criteria", [])
    if not isinstance(criteria, list) or not all(isinstance(c, str) and c.strip() for c in criteria):
        raise InputError("must be a list of names", file=where, field="annotate.criteria")
    keys = settings.section("annotate.keys")
    for action, key in keys.items():
        if action not in ANNOTATE_ACTIONS:
            raise InputError(f"unknown action (known: {', '.join(ANNOTATE_ACTIONS)})", file=where,
                             field=f"annotate.keys.{action}")
        if not isinstance(key, str) or not key.strip():
            raise InputError("must be a key name such as \"j\" or \"ctrl+j\"", file=where,
                             field=f"annotate.keys.{action}")
    truncate = section.get("truncate_chars", 20_000)
    if not isinstance(truncate, int) or truncate < 1000:
        raise InputError("must be an integer ≥ 1000", file=where, field="annotate.truncate_chars")
    refresh = section.get("active_refresh_every", 200)
    if not isinstance(refresh, int) or isinstance(refresh, bool) or refresh < 0:
        raise InputError("must be an integer ≥ 0 (0 = never)", file=where, field="annotate.active_refresh_every")
    return AnnotateSettings(
        criteria=tuple(c.strip() for c in criteria), keys=dict(keys),
        reveal_after_vote=bool(section.get("reveal_after_vote", False)),
        markdown=bool(section.get("markdown", True)), sync_scroll=bool(section.get("sync_scroll", True)),
        truncate_chars=truncate, active_refresh_every=refresh,
    )


def queue_section(settings: Settings) -> dict[str, Any]:
    """``[queue]``: defaults for ``sbs queue build`` (overlap, strategy, seed, gold_rate, gold_from, cap,
    max_pairs_per_prompt) and identity hold-back (hold_back_identity, identity_patterns)."""
    return settings.section("queue")
