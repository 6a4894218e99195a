"""The review app's remaining tabs as views: agreement, plots, the vote browser and the Blocked tab.

Each is one core function over a store (the app runs them with :func:`sbs_tui.core.views.on_db` on a worker);
the statistics live where the CLI computes them too (``sbs agreement``, ``sbs gate review``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sbs_tui.core.settings import QueueSettings

if TYPE_CHECKING:
    from sbs_tui.core.analysis.plots import PlotData
    from sbs_tui.core.store import Store


def agreement_view(store: Store, *, voters: str = "auto") -> dict[str, Any]:
    """``sbs agreement --voters VOTERS --format json`` (gold labels included when the queue has any)."""
    from sbs_tui.core.analysis.agreement import analyse_store

    return analyse_store(store, voters=voters).to_json()


def plots_view(store: Store, *, voters: str = "auto") -> PlotData:
    """The plots tab's numbers (:func:`sbs_tui.core.analysis.plots.collect_plot_data`)."""
    from sbs_tui.core.analysis.plots import collect_plot_data

    return collect_plot_data(store, voters=voters)


@dataclass(frozen=True)
class VotesView:
    votes: tuple[dict[str, Any], ...]  # the latest ones, newest first
    total: int


def votes_view(store: Store, limit: int = 500) -> VotesView:
    """The latest ``limit`` votes (newest first) and how many there are in all."""
    return VotesView(tuple(store.review.recent_votes(limit)), store.count("votes"))


def vote_detail(store: Store, vote_id: int) -> dict[str, Any] | None:
    return store.review.vote_detail(vote_id)


def blocked_view(store: Store, limit: int = 2000) -> dict[str, Any]:
    """The Blocked tab: blocked and held generations with counts per model and gate."""
    from sbs_tui.core.gates.review import review_summary

    return review_summary(store, limit)


def blocked_detail(store: Store, generation_id: int) -> dict[str, Any] | None:
    from sbs_tui.core.gates.review import review_detail

    return review_detail(store, generation_id)


def save_override(store: Store, generation_id: int, decision: str, reason: str, who: str,
                  queue_settings: QueueSettings | None = None) -> str:
    """A lead's override from the Blocked tab, as ``sbs gate override`` makes it (a pass pairs the generation at
    once); returns the one line that says what happened."""
    from sbs_tui.core.gates.review import decide

    return decide(store, generation_id, decision, reason, who, queue_settings=queue_settings).line
