"""The ledger's tables are touched only by the libs.ledger package.

Every SQL string in the tree is searched for a ``ledger.<table>`` reference; only the
package that owns the tables (and their migrations) may hold one. Tests are exempt:
they look at the tables from outside to check what the services wrote.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWNER = ROOT / "libs" / "ledger"
SCANNED = ("libs", "services", "tools")
# The benchmark runs the service's write transaction through pgbench, statement for
# statement, to measure the database's ceiling beside the service's path.
EXEMPT = {ROOT / "tools" / "bench" / "ledger_bench.py"}

TABLE = re.compile(r"\bledger\.[a-z_]+\b")
SQL_COMMENT = re.compile(r"--[^\n]*")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def ledger_sql(source: str) -> list[str]:
    """The ledger references in a module's string literals (docstrings and SQL comments aside)."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            hits += TABLE.findall(SQL_COMMENT.sub("", node.value))
    return hits


def _in_tests(path: Path) -> bool:
    return "tests" in path.relative_to(ROOT).parts


def test_no_ledger_sql_outside_its_package() -> None:
    offenders = {}
    for top in SCANNED:
        for path in (ROOT / top).rglob("*.py"):
            if path.is_relative_to(OWNER) or path in EXEMPT or _in_tests(path):
                continue
            hits = ledger_sql(path.read_text())
            if hits:
                offenders[str(path.relative_to(ROOT))] = sorted(set(hits))
    assert offenders == {}


def test_the_fence_sees_sql_and_ignores_prose() -> None:
    assert ledger_sql('q = "SELECT net_minor FROM ledger.balances"') == ["ledger.balances"]
    assert ledger_sql('q = f"JOIN ledger.postings p ON p.entry_id = {x}"') == ["ledger.postings"]
    assert ledger_sql('"""Reads ledger.balances."""\nq = "-- ledger.entries.id\\nSELECT 1"') == []
