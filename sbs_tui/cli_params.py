"""Option parsing shared by several commands (commands never import one another; what two of them parse alike
lives here, and what they do alike lives in the core)."""

from __future__ import annotations

import click


def parse_gate_names(gate_names: str | None) -> list[str] | None:
    """``--gates a,b`` as a list (None when not given); an empty list is a usage error."""
    only = [n.strip() for n in gate_names.split(",") if n.strip()] if gate_names else None
    if gate_names is not None and not only:
        raise click.BadParameter("give at least one gate name", param_hint="--gates")
    return only


def echo_err(message: str) -> None:
    """Diagnostics (progress, summaries, scorer logs) go to stderr: stdout is for results only."""
    click.echo(message, err=True)
