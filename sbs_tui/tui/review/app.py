"""The lead's app (``sbs review``): ranking, agreement, queue progress, and gates & funnel over one database.

Why tabs over one database rather than a report: the database changes while annotators work, so every view
can be recomputed (``r``) and the numbers stay honest about when they were taken. Nothing is computed on the
UI thread: each tab runs its statistics in a thread worker with its own SQLite connection (see
:mod:`sbs_tui.tui.review.pane`). Like the annotator app, this process never imports torch or transformers;
numpy and scipy load on first use, in the workers.
"""

from __future__ import annotations

import gc
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, TabbedContent, TabPane

from sbs_tui.core.settings import Settings
from sbs_tui.tui.crash import CrashReport
from sbs_tui.core.ranking.request import RankRequest
from sbs_tui.tui.review.agreement import AgreementPane
from sbs_tui.tui.review.blocked import BlockedPane
from sbs_tui.tui.review.funnel import FunnelPane
from sbs_tui.tui.review.jobs import OFFLOAD_AT, JobRunner
from sbs_tui.tui.review.pane import DetailPane, ReviewPane
from sbs_tui.tui.review.plots import PlotsPane
from sbs_tui.tui.review.queue import QueuePane
from sbs_tui.tui.review.ranking import RankingPane
from sbs_tui.tui.review.votes import VotesPane

TABS = (("ranking", "1 Ranking"), ("agreement", "2 Agreement"), ("queue", "3 Queue"), ("funnel", "4 Gates & funnel"),
        ("votes", "5 Votes"), ("plots", "6 Plots"), ("blocked", "7 Blocked"))
FULL_COLLECTION_EVERY = 100  # gen-1 collections between two full ones while the app runs (Python's default: 10)
RANKING_ACTIONS = {"cycle_method", "cycle_baseline", "cycle_ci", "cycle_control", "cycle_voters"}


class ReviewApp(CrashReport, App[None]):
    CSS_PATH = "review.tcss"
    TITLE = "sbs review"
    ENABLE_COMMAND_PALETTE = False
    # Every binding has an id, so a keymap ({binding id: keys}) can move it, as in the annotator app.
    BINDINGS = [
        Binding("1", "tab('ranking')", "Ranking", show=False, id="tab_ranking"),
        Binding("2", "tab('agreement')", "Agreement", show=False, id="tab_agreement"),
        Binding("3", "tab('queue')", "Queue", show=False, id="tab_queue"),
        Binding("4", "tab('funnel')", "Gates & funnel", show=False, id="tab_funnel"),
        Binding("5", "tab('votes')", "Votes", show=False, id="tab_votes"),
        Binding("6", "tab('plots')", "Plots", show=False, id="tab_plots"),
        Binding("7", "tab('blocked')", "Blocked", show=False, id="tab_blocked"),
        Binding("r", "refresh_all", "Refresh", id="refresh"),
        Binding("m", "cycle_method", "Method", id="cycle_method"),
        Binding("b", "cycle_baseline", "Baseline", id="cycle_baseline"),
        Binding("c", "cycle_ci", "CI", id="cycle_ci"),
        Binding("l", "cycle_control", "Control", id="cycle_control"),
        Binding("v", "cycle_voters", "Voters", show=False, id="cycle_voters"),
        # Served to a lead (`sbs serve`): their annotator app in a new browser tab; absent otherwise.
        Binding("a", "open_annotate", "Annotator app", id="open_annotate"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app_quit"),
    ]

    def __init__(self, db_path: str | Path, settings: Settings, *, rank_options: RankRequest | None = None,
                 timestamps: bool = True, refresh_every: float = 0.0, keymap: dict[str, str] | None = None,
                 offload_at: int | None = OFFLOAD_AT, annotate_url: str | None = None):
        super().__init__()
        self.annotate_url = annotate_url  # the lead's annotator app when served by `sbs serve`, else None
        # Tabs compute in helper processes on a large database (see review.jobs), on threads below offload_at.
        self.jobs = JobRunner(offload_at)
        self.keymap = dict(keymap or {})  # binding id -> keys, e.g. {"cycle_ci": "x"}
        self.refresh_every = refresh_every  # seconds between automatic refreshes; 0 = only on r
        self.timestamps = timestamps  # "as of HH:MM:SS (0.4 s)" in each tab's status line
        self.db_path = str(db_path)
        self.settings = settings
        self.rank_options = rank_options or RankRequest()
        self.sub_title = Path(self.db_path).name
        self._thresholds: tuple[int, int, int] | None = None  # the collector's, set back on unmount

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="ranking", id="tabs"):
            with TabPane(TABS[0][1], id="ranking"):
                yield RankingPane(self.db_path, self.rank_options, id="ranking-pane")
            with TabPane(TABS[1][1], id="agreement"):
                yield AgreementPane(self.db_path, id="agreement-pane")
            with TabPane(TABS[2][1], id="queue"):
                yield QueuePane(self.db_path, gating_required=self.settings.gating.required,
                                arena=self.settings.arena, id="queue-pane")
            with TabPane(TABS[3][1], id="funnel"):
                yield FunnelPane(self.db_path, id="funnel-pane")
            with TabPane(TABS[4][1], id="votes"):
                yield VotesPane(self.db_path, id="votes-pane")
            with TabPane(TABS[5][1], id="plots"):
                yield PlotsPane(self.db_path, id="plots-pane")
            with TabPane(TABS[6][1], id="blocked"):
                yield BlockedPane(self.db_path, id="blocked-pane")
        yield Footer()

    def on_mount(self) -> None:
        # Everything alive now (Textual, the widgets, the imported modules) lives as long as the app: out of the
        # collector's sight, so a full collection — stop-the-world, on whichever thread allocates, often the UI
        # thread — walks only what came later (issue 22: 50–135 ms collections in the worst stalls at 1M votes;
        # ~62k of the 190k objects after the lead's tour are there at mount). Garbage first, so none is kept for
        # good; undone on unmount. Full collections also come 10× less often (FULL_COLLECTION_EVERY gen-1
        # collections, not 10): a lead's tour at 1M votes met four, 25–73 ms of UI-thread CPU each, none after;
        # cyclic garbage that lived long enough to reach the oldest generation waits longer to be freed.
        gc.collect()
        gc.freeze()
        self._thresholds = gc.get_threshold()
        gc.set_threshold(self._thresholds[0], self._thresholds[1], FULL_COLLECTION_EVERY)
        if self.keymap:
            self.set_keymap(self.keymap)
        self.action_refresh_all()
        if self.refresh_every > 0:
            self.set_interval(self.refresh_every, self._refresh_tick, name="auto-refresh")

    def on_unmount(self) -> None:
        self.jobs.close()
        gc.unfreeze()  # the startup objects back in the collector's sight (a process that goes on, as in tests)
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)

    def _refresh_tick(self) -> None:
        """Recompute the tabs that are not still busy with the previous round (a slow bootstrap on a big
        database must not pile up behind itself)."""
        for pane in self.query(ReviewPane):
            if not pane.busy:
                pane.recompute()

    @property
    def ranking(self) -> RankingPane:
        return self.query_one(RankingPane)

    @property
    def voters(self) -> str:
        """Whose votes every tab counts: the ranking tab's picker (v), one rule for the whole app."""
        from textual.css.query import NoMatches

        try:
            return self.ranking.options.voters
        except NoMatches:  # before the panes are mounted
            return self.rank_options.voters

    # -- actions -----------------------------------------------------------------------------------------------------

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_refresh_all(self) -> None:
        """Recompute every tab (each in its own worker; the ranking with the current pickers)."""
        for pane in self.query(ReviewPane):
            pane.recompute()

    def action_cycle_method(self) -> None:
        self.ranking.cycle("method")

    def action_cycle_baseline(self) -> None:
        self.ranking.cycle("baseline")

    def action_cycle_ci(self) -> None:
        self.ranking.cycle("ci")

    def action_cycle_control(self) -> None:
        self.ranking.cycle("control")

    def action_cycle_voters(self) -> None:
        """Humans / judges / all votes (auto: humans when the database has both) — for every tab that counts
        votes, so the ranking, agreement, funnel and plots never count different votes."""
        self.ranking.cycle("voters")
        for pane in (self.query_one(AgreementPane), self.query_one(FunnelPane), self.query_one(PlotsPane)):
            pane.recompute()

    def action_open_annotate(self) -> None:
        """Open the lead's annotator app (a new browser tab under ``sbs serve``)."""
        if self.annotate_url:
            self.open_url(self.annotate_url)
            self.notify("annotator app opened in a new tab", timeout=3)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The ranking's picker keys work (and show in the footer) on the ranking tab only; the annotator app's
        key only where there is one to open (served to a lead)."""
        if action == "open_annotate":
            return bool(self.annotate_url)
        if action in RANKING_ACTIONS:
            return self.query_one(TabbedContent).active == "ranking"
        return True

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()
        # Tabs 5 and 7: enter opens the row under the cursor at once. After the tab's first paint: a focused table
        # is restyled and drawn again, and focusing it before that paint (drawn once, in one frame) showed no gain
        # in the stall bench (issue 22, docs/benchmarks.md).
        for pane in self.query(DetailPane):
            if pane.active:
                pane.focus_rows()


def make_review_app(db_path: str | Path, settings: Settings | None = None, *,
                    rank_options: RankRequest | None = None, timestamps: bool = True,
                    auto_refresh: float = 0.0, keymap: dict[str, str] | None = None,
                    offload_at: int | None = OFFLOAD_AT, annotate_url: str | None = None) -> ReviewApp:
    """The review app over ``db_path`` (the CLI and the tests build it here). ``timestamps=False`` leaves the
    time of computation out of the status lines (stable snapshots); ``keymap`` moves bindings by id;
    ``offload_at`` is the vote count from which tabs compute in helper processes (None: always on threads);
    ``annotate_url`` (set by ``sbs serve`` for a lead) puts the annotator app one key away (a)."""
    return ReviewApp(db_path, settings or Settings(), rank_options=rank_options, timestamps=timestamps,
                     refresh_every=auto_refresh, keymap=keymap, offload_at=offload_at, annotate_url=annotate_url)
