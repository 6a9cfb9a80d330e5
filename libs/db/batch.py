"""Statements sent to PostgreSQL together, in one round trip, inside the caller's transaction.

A write made of several independent statements (an expense row, its ledger entry and
postings, the outbox event, the feed entry) need not wait for each answer before
sending the next: psycopg's pipeline mode sends them all and reads the answers after.
They still run in the order given, and any error fails the transaction as it would
one statement at a time.

Statements can also be deferred to the end of the unit of work
(``Database.transaction``), where they go out together with the COMMIT. Writes that
lock a row every writer of a group needs (the group's ledger version) are deferred, so
the lock is held for one round trip instead of for everything the caller does after.

SQL here uses psycopg's placeholders (``%(name)s``) and runs on the transaction's own
driver connection, so it commits or rolls back with everything else the caller did.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection as DriverConnection
from psycopg.rows import namedtuple_row
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncConnection

_DEFERRED = "hisaab.deferred_statements"
_LEADING = "hisaab.leading_statements"
_DRIVER = "hisaab.driver_connection"


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)


async def _driver(conn: AsyncConnection) -> DriverConnection[Any]:
    # ``conn.info`` lives as long as the driver connection (SQLAlchemy clears it when it
    # replaces one), so the lookup, a hop through SQLAlchemy's greenlet, is done once.
    driver = conn.info.get(_DRIVER)
    if driver is None:
        raw = await conn.get_raw_connection()
        driver = conn.info[_DRIVER] = raw.driver_connection
    assert isinstance(driver, DriverConnection)
    return driver


async def run(conn: AsyncConnection, statements: Sequence[Statement]) -> list[list[Any]]:
    """Runs ``statements`` in order; returns each one's rows (named tuples; [] for none)."""
    if not statements:
        return []
    leading: list[Statement] = conn.info.pop(_LEADING, None) or []
    driver = await _driver(conn)
    cursors = []
    # A transaction's BEGIN goes out in the same round trip as its first statements.
    async with driver.pipeline():
        for statement in [*leading, *statements]:
            cursor = driver.cursor(row_factory=namedtuple_row)
            await cursor.execute(statement.sql, statement.params)
            cursors.append(cursor)
    return [await c.fetchall() if c.description else [] for c in cursors[len(leading) :]]


def open_unit(conn: AsyncConnection) -> None:
    """Called by Database.transaction: from now on statements may be deferred on ``conn``."""
    conn.info[_DEFERRED] = []


def defer(conn: AsyncConnection, *statements: Statement) -> None:
    """Send ``statements`` with the COMMIT of the current unit of work."""
    pending = conn.info.get(_DEFERRED)
    if pending is None:
        # Nothing would ever send them: refuse rather than lose a write.
        raise RuntimeError("statements can only be deferred inside Database.transaction()")
    pending.extend(statements)


def lead(conn: AsyncConnection, *statements: Statement) -> None:
    """Send ``statements`` in front of the next batch of the current unit of work (or with
    its COMMIT if no batch comes), instead of in a round trip of their own. Their rows are
    not returned: they either succeed or fail the transaction."""
    if _DEFERRED not in conn.info:
        raise RuntimeError("statements can only lead inside Database.transaction()")
    conn.info.setdefault(_LEADING, []).extend(statements)


async def commit(conn: AsyncConnection) -> None:
    """The deferred statements and the COMMIT, in one round trip (Database.transaction)."""
    pending: list[Statement] = [
        *(conn.info.pop(_LEADING, None) or []),
        *(conn.info.pop(_DEFERRED, None) or []),
    ]
    if not pending:
        return  # SQLAlchemy commits as usual
    driver = await _driver(conn)
    async with driver.pipeline():
        for statement in pending:
            await driver.execute(statement.sql, statement.params)
        await driver.commit()


def discard(conn: AsyncConnection) -> None:
    # The server may have ended the connection mid-transaction (a restart, say): it is invalid
    # and its info goes with it. Raising here would hide the error that ended it, which is the
    # retriable one the caller must see.
    with contextlib.suppress(PendingRollbackError):
        conn.info.pop(_DEFERRED, None)
        conn.info.pop(_LEADING, None)
