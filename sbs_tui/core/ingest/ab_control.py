"""Which variant is an experiment's control: the naming rule, and storing the choice once.

The importer stores each new experiment's control; ``sbs ab --control`` changes it.

Why here, below the analysis: the A/B importer chooses each new experiment's control as it stores the results,
and the analysis (:mod:`sbs_tui.core.analysis.abtest`) compares against the stored one; one rule serves both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sbs_tui.core.store import Store


CONTROL_NAMES = ("control", "baseline", "a")


def choose_control(variants: Iterable[str], requested: str | None = None) -> str:
    """``requested`` if present; else a variant named control/baseline/A (case-insensitive); else the first
    alphabetically."""
    names = sorted(variants)
    if not names:
        raise ValueError("no variants")
    if requested is not None and requested in names:
        return requested
    lowered = {name.lower(): name for name in reversed(names)}
    for candidate in CONTROL_NAMES:
        if candidate in lowered:
            return lowered[candidate]
    return names[0]


def store_controls(store: Store, requested: str | None = None, *, replace: bool = False,
                   chosen_by: str = "import") -> dict[str, str]:
    """Give every experiment a stored control: ``requested`` where the experiment has that variant, else the
    naming rule (:func:`choose_control`). ``replace=False`` keeps controls already stored (import: the choice is
    made once); ``replace=True`` (``sbs ab --control``) overwrites them for the experiments that have
    ``requested``. Returns the experiments whose control was (re)set."""
    stored = store.results.ab_controls()
    changed: dict[str, str] = {}
    for experiment, variants in store.results.ab_variants().items():
        if experiment in stored and not (replace and requested in variants):
            continue
        control = choose_control(variants, requested)
        if stored.get(experiment) != control:
            store.results.set_ab_control(experiment, control, chosen_by=chosen_by, replace=replace)
            changed[experiment] = control
    return changed
