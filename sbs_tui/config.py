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
