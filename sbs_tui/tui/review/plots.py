"""The lead app's plots tab: where a lead would rather look than read.

Ratings with interval whiskers, the pairwise win-rate matrix, ratings against votes collected (convergence), each
annotator's votes per day, gate pass rates per model and gate, and the funnel's ranks per stage. Drawn with
textual-plotext, so they render in a terminal and in the browser (``sbs serve``) alike. The numbers come from
:func:`sbs_tui.core.analysis.plots.collect_plot_data` on a worker thread (see :class:`ReviewPane`); each plot is a
recipe (the functions below draw on a fresh figure) that :class:`~sbs_tui.tui.review.figure.DrawnPlot` builds in a
worker too and keeps until the data or its size change — plotext drawing on the UI thread stalled it (issue 22).

Names reach plotext only after the literal-text rule: plotext writes labels into its canvas verbatim, so an escape
sequence in a model name would otherwise restyle the plot.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static

from sbs_tui.core.views import on_db
from sbs_tui.core.views import review as reviews
from sbs_tui.core.scope import described
from sbs_tui.present.text import escape
from sbs_tui.tui.review.figure import DrawnPlot
from sbs_tui.tui.review.pane import ReviewPane

PLOTS = (
    ("plot-ratings", "Ratings (BT) with 95% intervals"),
    ("plot-matrix", "Win rate, row model vs column model"),
    ("plot-convergence", "Ratings as votes came in"),
    ("plot-activity", "Votes per annotator per day"),
    ("plot-gates", "Gate pass rate per model (%)"),
    ("plot-funnel", "Rank per stage (1 = best)"),
)
LABEL_WIDTH = 18


def label(text: str) -> str:
    """A name as plotext may draw it: the one literal rule (stand-ins for control, bidi and zero-width
    characters), shortened to fit an axis."""
    text = escape(text)
    return text if len(text) <= LABEL_WIDTH else text[: LABEL_WIDTH - 1] + "…"


class PlotsPane(ReviewPane):
    """Six plots over the current database, recomputed with the other tabs (``r``)."""

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-status")
        with Grid(id="plots-grid"):
            for plot_id, title in PLOTS:
                # The win matrix reads best as a coloured table of percentages; the others are plotext plots.
                widget = Static(id=plot_id, classes="review-plot") if plot_id == "plot-matrix" else \
                    DrawnPlot(id=plot_id, classes="review-plot")
                widget.border_title = title
                yield widget
        yield Static(id="plots-notes")

    def job(self) -> Callable[[], Any]:
        return partial(on_db, self.db_path, reviews.plots_view, voters=self.voters)

    def status_text(self, result: Any, seconds: float) -> Text:
        return Text(f"{len(result.ratings)} models · {described(result.voters, result.votes)} · "
                    f"{self.stamp(seconds)}", style="dim")

    def show(self, plots: Any) -> None:
        counted = described(plots.voters, plots.votes)
        for plot_id, title in PLOTS:
            if plot_id in ("plot-ratings", "plot-matrix", "plot-convergence"):
                self.query_one(f"#{plot_id}").border_title = f"{title} · {counted}"
        for plot_id, recipe, data in (("plot-ratings", _ratings, plots.ratings),
                                      ("plot-convergence", _convergence, plots.convergence),
                                      ("plot-activity", _activity, plots.activity),
                                      ("plot-gates", _gates, plots.gate_rates),
                                      ("plot-funnel", _funnel, plots.funnel_ranks)):
            self.query_one(f"#{plot_id}", DrawnPlot).draw(recipe, data)
        self._matrix(plots.win_matrix)
        notes = self.query_one("#plots-notes", Static)
        notes.update(Text("; ".join(plots.notes), style="dim"))

    def _matrix(self, matrix: tuple[list[str], list[list[float | None]]] | None) -> None:
        """A heat map as a table: green where the row model wins more often than not, red where it loses."""
        from rich.table import Table

        widget = self.query_one("#plot-matrix", Static)
        if not matrix:
            widget.update(Text("no pairwise votes yet", style="dim"))
            return
        names, rates = matrix
        table = Table(box=None, padding=(0, 1), show_edge=False)
        table.add_column("row vs column")
        for k in range(len(names)):
            table.add_column(str(k + 1), justify="right")
        for k, (model, row) in enumerate(zip(names, rates, strict=True)):
            cells: list[Text] = []
            for j, value in enumerate(row):
                if j == k or value is None:
                    cells.append(Text("·", style="dim"))
                    continue
                shade = int(60 + abs(value - 0.5) * 2 * 140)
                colour = f"rgb(0,{shade},0)" if value >= 0.5 else f"rgb({shade},0,0)"
                cells.append(Text(f"{value * 100:.0f}%", style=f"on {colour}"))
            table.add_row(Text(f"{k + 1} {label(model)}"), *cells)
        widget.update(table)


# -- recipes: each draws one plot on a fresh figure, on DrawnPlot's worker thread ------------------------------------
# (``plt`` is a plotext figure, typed Any: plotext's annotations are narrower than what it takes, e.g. ``labels=``)

def _ratings(plt: Any, data: list[tuple[str, float, float | None, float | None]]) -> None:
    if not data:
        return plt.title("no votes yet")
    finite = [v for _, r, lo, hi in data for v in (r, lo, hi) if v is not None]
    left, right = min(finite) - 20, max(finite) + 20
    ys = list(range(len(data), 0, -1))
    for (_model, rating, lo, hi), y in zip(data, ys, strict=True):
        plt.plot([lo if lo is not None else left, hi if hi is not None else right], [y, y], color="blue")
        plt.scatter([rating], [y], marker="●", color="white")
    plt.yticks(ys, [label(m) for m, *_ in data])
    plt.xlim(left, right)


def _convergence(plt: Any, data: tuple[list[int], dict[str, list[float]]] | None) -> None:
    if not data:
        return plt.title("fewer than 20 votes")
    checkpoints, series = data
    for model, values in series.items():
        plt.plot(checkpoints, values, label=label(model))
    plt.xlabel("votes")


def _activity(plt: Any, data: dict[str, list[tuple[str, int]]]) -> None:
    if not data:
        return plt.title("no time-stamped votes")
    days = sorted({day for series in data.values() for day, _ in series})[-14:]
    annotators = sorted(data)
    per_day = {a: dict(data[a]) for a in annotators}
    if len(days) == 1:  # one day is a point per annotator, not a bar as wide as the plot
        for a in annotators:
            plt.scatter([1], [per_day[a].get(days[0], 0)], label=label(a), marker="●")
        plt.xticks([1], [days[0][5:]])
        plt.xlim(0, 2)
        plt.ylim(0, max(per_day[a].get(days[0], 0) for a in annotators) + 1)
    else:
        plt.multiple_bar([d[5:] for d in days], [[per_day[a].get(d, 0) for d in days] for a in annotators],
                         labels=[label(a) for a in annotators])
    plt.title("last 14 days with votes")


def _gates(plt: Any, data: dict[str, dict[str, float]]) -> None:
    if not data:
        return plt.title("no gate results yet (sbs gate)")
    models = sorted(data)
    gates = sorted({g for per in data.values() for g in per})
    plt.multiple_bar([label(m) for m in models], [[data[m].get(g, 0.0) * 100 for m in models] for g in gates],
                     labels=[label(g) for g in gates])
    plt.ylim(0, 100)


def _funnel(plt: Any, data: tuple[list[str], dict[str, list[float]]] | None) -> None:
    if not data:
        return plt.title("fewer than two stages with data")
    models, ranks = data
    plt.multiple_bar([label(m) for m in models], list(ranks.values()), labels=[label(s) for s in ranks])
