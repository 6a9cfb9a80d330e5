"""Array literals read back by PostgreSQL exactly as the lists they were written from."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from libs.db import batch
from libs.db.arrays import bigint_array, text_array
from libs.db.batch import Statement
from libs.db.database import Database

pytestmark = pytest.mark.integration

AWKWARD = [
    "",
    "NULL",
    "null",
    "a,b",
    "{x}",
    'say "hi"',
    "back\\slash",
    "\\",
    '"',
    " spaced ",
    "ನಮಸ್ಕಾರ",
    "x\ny",
]
NUMBERS = [0, -1, 1, 2**63 - 1, -(2**63), 45000]


def test_literals_quote_every_element() -> None:
    assert text_array(["a", 'b"c']) == '{"a","b\\"c"}'
    assert text_array([]) == "{}"
    assert bigint_array([3, -4]) == "{3,-4}"


async def test_postgres_reads_back_the_same_lists(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    try:
        async with db.read() as conn:
            [rows] = await batch.run(
                conn,
                [
                    Statement(
                        "SELECT %(texts)s::text[] AS texts, %(numbers)s::bigint[] AS numbers, "
                        "%(none)s::text[] AS none",
                        {
                            "texts": text_array(AWKWARD),
                            "numbers": bigint_array(NUMBERS),
                            "none": text_array([]),
                        },
                    )
                ],
            )
            assert (rows[0].texts, rows[0].numbers, rows[0].none) == (AWKWARD, NUMBERS, [])
            # Through unnest, as the ledger's statements use them: one row per element, in order.
            pairs = (
                await conn.execute(
                    text("SELECT u, d FROM unnest(CAST(:u AS text[]), CAST(:d AS bigint[])) AS t(u, d)"),
                    {"u": text_array(["b", "a"]), "d": bigint_array([5, -5])},
                )
            ).all()
            assert [tuple(p) for p in pairs] == [("b", 5), ("a", -5)]
    finally:
        await db.close()
