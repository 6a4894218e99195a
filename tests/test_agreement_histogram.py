"""The fast paths of `sbs agreement` on 10M votes give exactly what the slow ones gave (issue 22).

The item histogram the tallies give agreement (Fleiss κ, α, percent agreement) is SQLite's GROUP BY, exactly.

``Tallies.item_histogram`` counts the label-count vectors in Python in one scan (no sort: on 10M votes that is a
second off ``sbs agreement``); here random ``agree_items`` tables, zero and lopsided counts included, must give the
item count and the vectors — values and ascending order — that the two reference queries give, for every scope.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sbs_tui.core.store import Store
from sbs_tui.core.store.tallies import SCOPES

count = st.sampled_from([0, 0, 0, 1, 1, 2, 3, 7, 40])
row = st.tuples(*[count] * 6)


def _reference(store: Store, kinds) -> tuple[int, list[tuple[int, int, int, int]]]:
    cols = [" + ".join(f"{k[0]}{j}" for k in kinds) for j in range(3)]
    total = " + ".join(cols)
    items = store.conn.execute(f"SELECT count(*) FROM agree_items WHERE {total} >= 1").fetchone()[0]
    hist = store.conn.execute(f"SELECT {cols[0]}, {cols[1]}, {cols[2]}, count(*) FROM agree_items "
                              f"WHERE {total} >= 2 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall()
    return items, hist


@settings(max_examples=60, deadline=None)
@given(st.lists(row, max_size=60))
def test_item_histogram_equals_the_group_by_reference(rows) -> None:
    store = Store(memory=True)
    store.conn.executemany(
        "INSERT INTO agree_items (prompt_id, x_id, y_id, h0, h1, h2, j0, j1, j2) VALUES (?, 1, 2, ?, ?, ?, ?, ?, ?)",
        [(f"p{i}", *r) for i, r in enumerate(rows)])
    for kinds in SCOPES.values():
        assert store.tallies.item_histogram(kinds) == _reference(store, kinds)


table = st.lists(st.integers(0, 400), min_size=4, max_size=4).filter(any)  # a stratum holds votes


@settings(max_examples=300, deadline=None)
@given(st.lists(table, min_size=1, max_size=8))
def test_the_cmh_p_value_is_scipys_chi2_sf_to_the_last_bit(tables) -> None:
    """Position bias's CMH p-value comes from ``scipy.special`` (``scipy.stats`` is 0.7 s to import): it must be
    ``scipy.stats.chi2.sf`` exactly, or a report's p-values would move in the last digit."""
    from scipy.stats import chi2

    from sbs_tui.core.analysis.position_bias import cmh_chi2_p

    stat, p = cmh_chi2_p(tables)
    assert p == float(chi2.sf(stat, 1))
