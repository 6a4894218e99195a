"""``sqlite_utils``, imported without pandas or numpy.

Why: sqlite-utils imports pandas and numpy at module load when they are installed, only to map their scalar
types (``pd.Timestamp``, ``np.int64``…) to column types when it creates a table from Python values. The store
never does that (its tables come from the migrations' SQL), yet the imports cost every process that opens a
store: pandas (which optional extras such as Ray Data bring) 0.45 s, numpy about 0.1 s of the annotator app's
cold start, which needs numpy for nothing else. So both are hidden while sqlite-utils loads and put back
afterwards; a process that already imported either (``sbs rank``, a Ray worker) keeps it, and sqlite-utils then
sees it as usual.
"""

from __future__ import annotations

import sys

_HIDDEN = ("pandas", "numpy")

if "sqlite_utils" not in sys.modules and not any(name in sys.modules for name in _HIDDEN):
    for _name in _HIDDEN:
        sys.modules[_name] = None  # type: ignore[assignment]  # makes `import NAME` raise ImportError
    try:
        import sqlite_utils
    finally:
        for _name in _HIDDEN:
            del sys.modules[_name]
else:
    import sqlite_utils

__all__ = ["sqlite_utils"]
