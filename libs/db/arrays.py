"""Array parameters written as PostgreSQL array literals.

Given a Python list, psycopg works out the array's element type from its elements, on
every call and in Python (a few calls per element): on a create, whose ledger statements
carry five arrays, that was most of the cost of converting its parameters. The statements
that take these already cast the parameter (``%(users)s::text[]``), so the literal, sent
as text, is all the server needs.
"""

from __future__ import annotations

from collections.abc import Iterable


def _quoted(value: str) -> str:
    # Inside double quotes only a backslash and a double quote need escaping; quoting every
    # element keeps commas, braces, spaces, an empty string and the word NULL as they are.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_array(values: Iterable[str]) -> str:
    """``values`` as a literal for ``::text[]``."""
    return "{" + ",".join(map(_quoted, values)) + "}"


def bigint_array(values: Iterable[int]) -> str:
    """``values`` as a literal for ``::bigint[]``."""
    return "{" + ",".join(str(int(v)) for v in values) + "}"
