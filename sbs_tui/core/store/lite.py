"""``sqlite_utils``, imported without pandas.

Why: sqlite-utils imports pandas at module load when it is installed (to map ``pd.Timestamp`` columns), and
pandas arrives with optional extras such as Ray Data. That import cost 0.45 s in *every* process that opens a
store — ``sbs rank``, the annotator app's cold start — for a feature the store never uses (it never inserts
DataFrames). So pandas is hidden while sqlite-utils loads and put back afterwards; a process that already
imported pandas (a Ray worker) keeps it, and sqlite-utils then sees it as usual.
"""

from __future__ import annotations

import sys

if "sqlite_utils" not in sys.modules and "pandas" not in sys.modules:
    sys.modules["pandas"] = None  # type: ignore[assignment]  # makes `import pandas` raise ImportError
    try:
        import sqlite_utils
    finally:
        del sys.modules["pandas"]
else:
    import sqlite_utils

__all__ = ["sqlite_utils"]
