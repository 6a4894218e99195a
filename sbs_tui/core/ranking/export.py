"""``sbs export rankings``: a stored ranking written whole to a file, as one core call.

Why in the rankings and not with the other writers (:mod:`sbs_tui.core.io.export`): it ranks first, with the
options and rules of ``sbs rank`` (:func:`~sbs_tui.core.ranking.api.rank_stored`), then writes through the atomic
writer below it; the writers themselves know nothing of rankings.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from sbs_tui.core.io.export import atomic_output

if TYPE_CHECKING:
    from sbs_tui.core.ranking.report import Ranking
    from sbs_tui.core.ranking.request import RankRequest
    from sbs_tui.core.store import Store


def export_ranking(open_store: Callable[[], Store], request: RankRequest, path: str | os.PathLike[str] | None,
                   write: Callable[[dict[str, Any], str, IO[str]], None]) -> Ranking:
    """``sbs export rankings`` as one call: rank as ``sbs rank`` does, then hand the ranking's JSON document to
    ``write`` (the presentation layer's writer: ``(doc, fmt, stream)``) on a stream that becomes ``path`` only
    when it succeeds. The format is CSV for a ``.csv`` path, else JSON."""
    from sbs_tui.core.ranking.api import rank_stored

    ranking = rank_stored(open_store, request)
    fmt = "csv" if path is not None and str(path).lower().endswith(".csv") else "json"
    with atomic_output(path) as fh:
        write(ranking.to_json(), fmt, fh)
    return ranking
