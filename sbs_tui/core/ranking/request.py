"""What a ranking is asked for, and the rules between its options — once, for ``sbs rank``, ``sbs export
rankings``, ``sbs review`` and the review app's pickers.

Why one place: the method/control rules used to be written in the rank command and again in the review app
(with ``METHODS`` in three modules), and two copies of a rule drift. Only the standard library here: the
commands import it for their ``--help`` choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from sbs_tui.core.scope import VOTERS
from sbs_tui.errors import InputError

METHODS = ("bt", "elo", "trueskill", "winrate")
CIS = ("auto", "bootstrap", "sandwich", "profile")  # auto: chosen by the data (btrank.choose_ci)
CONTROLS = ("none", "length", "style")
ELO_ORDERS = ("bootstrap", "file")  # bootstrap: median over shuffled rounds (FastChat); file: the stored order
ONLINE_METHODS = ("elo", "trueskill")  # order-dependent; no covariates, so no length/style control


class VoteFilters(TypedDict):
    """The vote filters, as the store's ranking queries take them (typed for ``**filters``)."""

    annotators: list[str] | None
    category: str | None
    include_flagged: bool


@dataclass(frozen=True)
class RankRequest:
    """A ranking to compute. Defaults are ``sbs rank``'s (bt, interval chosen by the data, 1000 bootstrap rounds
    when that is the bootstrap, no control, seed 0)."""

    method: str = "bt"  # METHODS
    baseline: str | None = None  # anchor at 1000 (bt/elo); the reference model (winrate: required)
    rounds: int = 1000  # bootstrap rounds (ci = bootstrap)
    ci: str = "auto"  # CIS (bt only; the other methods have their own intervals)
    control: str = "none"  # CONTROLS
    annotators: Sequence[str] | None = None  # only votes by these
    category: str | None = None
    include_flagged: bool = False
    seed: int = 0
    orders: int = 1  # elo: average over this many random vote orders
    k_factor: float = 4.0  # elo
    elo_order: str = "bootstrap"  # ELO_ORDERS
    voters: str = "auto"  # VOTERS: whose votes count (core.scope), for `sbs rank` and the review app alike
    matrices: bool = False
    threads: int | None = None
    difficulty: str | None = None  # winrate --control length: CSV instruction,difficulty (else the stored one)
    refit_difficulty: bool = False  # winrate --control length: refit the stored difficulty from the models present
    gamed: str | None = None  # winrate --control length: AlpacaEval "gamed" baseline annotations (regularisation)

    def _conflict(self, *, need_baseline: bool) -> str | None:
        if need_baseline and self.method == "winrate" and self.baseline is None:
            return "winrate_baseline"
        if self.control != "none" and self.method in ONLINE_METHODS:
            return "control_online"
        if self.control == "style" and self.method == "winrate":
            return "style_winrate"
        return None

    def problem(self) -> str | None:
        """Why this combination cannot run, in the review app's words, or None. (Win rate without a baseline is
        not a problem there: the app picks the most-compared model.)"""
        conflict = self._conflict(need_baseline=False)
        if conflict == "control_online":
            return f"control '{self.control}' applies to bt or winrate"
        if conflict == "style_winrate":
            return "style control applies to bt (winrate has length control)"
        return None

    def validate(self) -> RankRequest:
        """Raise :class:`InputError` (naming the command-line option) unless this request can run."""
        for name, value, allowed in (("--method", self.method, METHODS), ("--ci", self.ci, CIS),
                                     ("--control", self.control, CONTROLS), ("--voters", self.voters, VOTERS)):
            if value not in allowed:
                raise InputError(f"must be one of {', '.join(allowed)}", field=name)
        # Win rate without --baseline is not an error: the ranking picks the most-compared model and says so
        # (api.default_baseline), exactly as the review app does.
        conflict = self._conflict(need_baseline=False)
        if conflict == "control_online":
            raise InputError(f"--control {self.control} applies to --method bt or winrate", field="--control")
        if conflict == "style_winrate":
            raise InputError("--control style applies to --method bt (use --control length for winrate)",
                             field="--control")
        lc_only = (("--difficulty", self.difficulty is not None), ("--refit-difficulty", self.refit_difficulty),
                   ("--gamed", self.gamed is not None))
        for name, given in lc_only:
            if given and not (self.method == "winrate" and self.control == "length"):
                raise InputError("applies to --method winrate --control length only", field=name)
        if self.difficulty is not None and self.refit_difficulty:
            raise InputError("--difficulty FILE gives the difficulty; --refit-difficulty refits the stored one: "
                             "choose one", field="--refit-difficulty")
        return self

    @property
    def filters(self) -> VoteFilters:
        """The vote filters, as the store's ranking queries take them."""
        return {"annotators": list(self.annotators) if self.annotators else None, "category": self.category,
                "include_flagged": self.include_flagged}
