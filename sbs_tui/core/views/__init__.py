"""The typed view layer: what every surface shows, as frozen dataclasses computed by one function each.

Why a layer: the review app's panes, ``sbs rank``/``funnel``/``queue status``/``report`` and the plots used to
gather their numbers separately (the review app in a data module of its own, with its own copy of the default
baseline rule and its own vote counting), and two copies of a rule drift — one database showed two different
rankings. Here each question has one function, ``<name>_view(store, ...)``, returning a frozen dataclass that
says whose votes it counted (:mod:`sbs_tui.core.scope`). The CLI prints it, the apps draw it, the report lays it out.

:func:`on_db` runs a view on a database path (opening a store on the calling thread, as SQLite requires): the
review app hands ``functools.partial(on_db, path, view, ...)`` to its worker threads or helper processes.
Nothing is imported here eagerly: a view's caller loads only the view it asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

READ_CACHE_KIB = 32 * 1024  # the SQLite page cache of a view that only reads (the store's own is 256 MB)


def on_db(path: str, view: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``view(store, *args, **kwargs)`` on a store of ``path`` opened (and closed) on this thread."""
    from sbs_tui.core.store import Store

    store = Store(path)
    try:
        return view(store, *args, **kwargs)
    finally:
        store.close()


def read_on_db(path: str, view: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """:func:`on_db` for a view that only reads, with a page cache of at most :data:`READ_CACHE_KIB`.

    Why: the store's 256 MB cache is a ceiling set for imports (random-key index inserts), and a view that scans
    every vote's index entry once filled it with pages nobody reads again — the store is closed after the view.
    The queue tab's per-annotator vote counts took its helper to 82 MB at 1M votes and 307 MB at 10M (tracemalloc:
    3.8 MB of Python objects at 1M; SQLite's cache 47.8 MB, and 116 MB for the counts alone at 10M). With this
    ceiling: 33 MB of cache at 1M, and no more at any size, as fast on the 1M database (1.0–1.4 s against
    1.4–2.1 s, alternated, loaded machine). Not for a view that catches the tallies up (it writes).
    """
    def with_small_cache(store: Any) -> T:
        store.set_page_cache(READ_CACHE_KIB)
        return view(store, *args, **kwargs)

    return on_db(path, with_small_cache)
