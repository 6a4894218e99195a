"""SQL lives only under ``sbs_tui/core/store/``: a scan of every other source file for SQL statements and
database calls, so a query written elsewhere fails here rather than splitting the schema's users again."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORE = ROOT / "sbs_tui" / "core" / "store"

# Statement shapes, upper-case as this codebase writes SQL (prose like "select a model" does not match).
SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(?:OR\s+[A-Z]+\s+)?INTO\b|\bUPDATE\s+\[?\w+\]?\s+SET\b|\bDELETE\s+FROM\b"
    r"|\b(?:CREATE|DROP)\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)\b|\bALTER\s+TABLE\b|\bPRAGMA\s+\w+"
    r"|\bBEGIN\s+(?:IMMEDIATE|EXCLUSIVE|DEFERRED)\b"
)
DB_CALLS = {"execute", "executemany", "executescript", "iterdump"}


def sql_findings(source: str, name: str) -> list[str]:
    """Places in one module's source that hold SQL: string constants (docstrings aside) and DB-API calls."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                and SQL.search(node.value)):
            found.append(f"{name}:{node.lineno}: SQL {node.value[:60]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DB_CALLS:
            found.append(f"{name}:{node.lineno}: .{node.func.attr}(…)")
    return found


def test_the_scan_finds_sql() -> None:
    sample = ('def f(conn):\n    """Docstrings may say SELECT x FROM y."""\n'
              '    conn.execute("SELECT id FROM votes")\n    return "UPDATE pairs SET open = 1"\n')
    assert sorted(sql_findings(sample, "m.py")) == ["m.py:3: .execute(…)", "m.py:3: SQL 'SELECT id FROM votes'",
                                                    "m.py:4: SQL 'UPDATE pairs SET open = 1'"]
    assert sql_findings('MSG = "select a model, then insert into the table"\n', "m.py") == []


def test_no_sql_outside_the_store() -> None:
    sources = [p for d in ("sbs_tui", "scorers") for p in sorted((ROOT / d).rglob("*.py"))
               if STORE not in p.parents]
    assert len(sources) > 30  # the scan really walks the tree
    findings = [f for p in sources for f in sql_findings(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert findings == []


def test_the_store_itself_is_where_the_sql_is() -> None:
    votes = STORE / "votes.py"
    assert len(sql_findings(votes.read_text(encoding="utf-8"), "votes.py")) > 5
