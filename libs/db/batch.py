"""Statements sent to PostgreSQL together, in one round trip, inside the caller's transaction.

A write made of several independent statements (an expense row, its ledger entry and
postings, the balances, the outbox event, the feed entry) need not wait for each
answer before sending the next: psycopg's pipeline mode sends them all and reads the
answers after. The statements still run in the order given, so lock order is kept, and
any error fails the whole transaction as it would one statement at a time.

SQL here uses psycopg's placeholders (``%(name)s``) and runs on the transaction's own
driver connection, so it commits or rolls back with everything else the caller did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection as DriverConnection
from psycopg.rows import namedtuple_row
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)


async def _driver(conn: AsyncConnection) -> DriverConnection[Any]:
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, DriverConnection)
    return driver


async def run(conn: AsyncConnection, statements: Sequence[Statement]) -> list[list[Any]]:
    """Runs ``statements`` in order; returns each one's rows (named tuples; [] for none)."""
    if not statements:
        return []
    driver = await _driver(conn)
    if len(statements) == 1:
        cursor = driver.cursor(row_factory=namedtuple_row)
        await cursor.execute(statements[0].sql, statements[0].params)
        return [await cursor.fetchall() if cursor.description else []]
    cursors = []
    async with driver.pipeline():
        for statement in statements:
            cursor = driver.cursor(row_factory=namedtuple_row)
            await cursor.execute(statement.sql, statement.params)
            cursors.append(cursor)
    return [await c.fetchall() if c.description else [] for c in cursors]
