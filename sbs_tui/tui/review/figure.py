"""A plotext plot drawn off the UI thread and kept until its data, size or theme change (the plots tab).

Why: ``textual_plotext.PlotextPlot`` builds its figure in ``render`` — on the UI thread, and again on every layout
pass that asks the widget its height. Six plots after a refresh (``r``) held the UI thread for 0.2–0.7 s on the
loaded 2-core machine (issue 22). :class:`DrawnPlot` takes a *recipe* (a function that draws on a fresh plotext
figure), builds the figure and its ``Text`` in a thread worker once per (recipe, size, theme), and ``render``
returns the cached ``Text``. A plot whose tab is hidden has no size and is not drawn until it is shown; until the
first drawing is done the widget is blank (the status line of the tab says "computing…" meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

Recipe = Callable[[Plot, Any], None]  # draws its data on the figure it is given


def drawn(recipe: Recipe, data: Any, width: int, height: int, theme: str) -> Text:
    """``recipe`` drawn with ``data`` on a fresh figure of ``width`` × ``height`` cells in plotext ``theme``, as rich
    Text. Pure: each call has its own figure, so it is safe on a worker thread."""
    plt = Plot()
    recipe(plt, data)
    plt.plotsize(width, height)
    plt._set_size(width, height)  # as PlotextPlot.render does (textual-plotext issue 5)
    plt.theme(theme)
    return Text.from_ansi(plt.build())


class DrawnPlot(PlotextPlot):
    """A ``PlotextPlot`` whose figure is built in a worker from a recipe (:meth:`draw`) and cached."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._recipe: Recipe | None = None
        self._data: Any = None
        self._version = 0  # bumped by every draw(): a new recipe is new data
        self._wanted: tuple[Any, ...] | None = None  # the key being built
        self._drawn: tuple[tuple[Any, ...], Text] | None = None  # the key and Text on screen
        self._pending = False  # a build is asked for after the next refresh
        self.builds = 0  # figures built (a refresh with unchanged data builds none)

    def draw(self, recipe: Recipe, data: Any) -> None:
        """Show what ``recipe`` draws with ``data`` (built in a worker; the previous drawing stays until it is
        ready). The same recipe with equal data — a refresh where nothing changed — keeps the drawing as it is."""
        if self._recipe is not None and recipe is self._recipe and data == self._data:
            return
        self._recipe, self._data = recipe, data
        self._version += 1
        self._request()

    def on_resize(self) -> None:
        self._request()

    def _key(self) -> tuple[Any, ...]:
        return self._version, self.size.width, self.size.height, self._get_plotext_theme_name(self.app.theme)

    def _request(self) -> None:
        """Build the figure for the current size once the layout has settled (a tab being shown resizes its
        plots several times in one frame); nothing while hidden (no size) or when it is on screen or being built."""
        if self._recipe is not None and self.size.area and not self._pending:
            self._pending = True
            self.call_after_refresh(self._start)

    def _start(self) -> None:
        self._pending = False
        if self._recipe is None or not self.size.area:
            return
        key = self._key()
        if key == self._wanted or (self._drawn is not None and self._drawn[0] == key):
            return
        self._wanted = key
        recipe, data = self._recipe, self._data
        self.run_worker(lambda: self._build(key, recipe, data), thread=True, exclusive=True, group="plot",
                        exit_on_error=False)

    @property
    def current(self) -> bool:
        """The drawing on screen is for the latest data, size and theme (tests wait for it)."""
        return self._recipe is None or not self.size.area or (self._drawn is not None
                                                                and self._drawn[0] == self._key())

    def _build(self, key: tuple[Any, ...], recipe: Recipe, data: Any) -> None:
        """On the worker thread: the figure, then hand it to the UI thread."""
        text = drawn(recipe, data, key[1], key[2], key[3])
        self.app.call_from_thread(self._built, key, text)

    def _built(self, key: tuple[Any, ...], text: Text) -> None:
        if key != self._wanted:
            return  # superseded (new data or size) while it was built
        self.builds += 1
        self._drawn = (key, text)
        self.refresh()

    def render(self) -> RenderResult:
        """The cached drawing (blank before the first); asks for a new one when the size or theme changed."""
        if self._drawn is None or self._drawn[0] != self._key():
            self._request()
        return self._drawn[1] if self._drawn is not None else Text("")
