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


def on_db(path: str, view: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``view(store, *args, **kwargs)`` on a store of ``path`` opened (and closed) on this thread."""
    from sbs_tui.core.store import Store

    store = Store(path)
    try:
        return view(store, *args, **kwargs)
    finally:
        store.close()
