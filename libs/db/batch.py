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

import collections
import contextlib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection as DriverConnection
from psycopg import errors, generators
from psycopg._queries import PostgresQuery
from psycopg.abc import PQGen
from psycopg.adapt import Transformer
from psycopg.pq import DiagnosticField, ExecStatus, TransactionStatus
from psycopg.pq.abc import PGconn, PGresult
from psycopg.rows import namedtuple_row
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.db import disconnects

_DEFERRED = "hisaab.deferred_statements"
_LEADING = "hisaab.leading_statements"
_DRIVER = "hisaab.driver_connection"


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)


async def driver_of(conn: AsyncConnection) -> DriverConnection[Any]:
    """The psycopg connection under ``conn``."""
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
    driver = await driver_of(conn)
    cursors = []
    # A transaction's BEGIN goes out in the same round trip as its first statements.
    async with driver.pipeline():
        for statement in [*leading, *statements]:
            cursor = driver.cursor(row_factory=namedtuple_row)
            await cursor.execute(statement.sql, statement.params)
            cursors.append(cursor)
    return [await c.fetchall() if c.description else [] for c in cursors[len(leading) :]]


async def fetch(conn: AsyncConnection, statement: Statement) -> list[Any]:
    """One statement's rows (named tuples), sent on the driver connection directly: for a
    hot read, without SQLAlchemy's statement machinery or a pipeline around it.

    Outside a transaction (``Database.read(snapshot=False)``) it goes as one prepared
    statement on libpq, as a unit sent with its commit does: psycopg's cursor cost about
    half as much CPU again for the same round trip."""
    driver = await driver_of(conn)
    if driver.autocommit and _LEADING not in conn.info:
        return await _fetch_alone(conn, driver, statement)
    cursor = driver.cursor(row_factory=namedtuple_row)
    await cursor.execute(statement.sql, statement.params)
    return await cursor.fetchall() if cursor.description else []


async def _fetch_alone(
    conn: AsyncConnection, driver: DriverConnection[Any], statement: Statement
) -> list[Any]:
    results, failed = await _flush(conn, driver, [statement], wrapped=False)
    if failed is not None and failed.error_field(DiagnosticField.SQLSTATE) == _NO_SUCH_STATEMENT:
        results, failed = await _flush(conn, driver, [statement], wrapped=False, forget=True)
    if failed is not None:
        raise errors.error_from_result(failed, encoding=driver.info.encoding)
    result = results[0]
    if result.status != ExecStatus.TUPLES_OK:
        return []
    transformer = Transformer.from_context(driver)
    transformer.set_pgresult(result)
    row = _row_type(tuple(result.fname(i) or b"" for i in range(result.nfields)))
    return transformer.load_rows(0, result.ntuples, row._make)


@functools.lru_cache(maxsize=256)
def _row_type(names: tuple[bytes, ...]) -> Any:
    return collections.namedtuple("Row", [n.decode() for n in names], rename=True)


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
    driver = await driver_of(conn)
    opening = driver.pgconn.transaction_status == TransactionStatus.IDLE
    plain = (
        not driver.autocommit and (driver.isolation_level, driver.read_only, driver.deferrable) == (None,) * 3
    )
    if opening and plain:
        await _in_one_flush(conn, driver, pending)
        return
    # Statements already ran in this transaction (or psycopg opens it its own way): its pipeline.
    async with driver.pipeline():
        for statement in pending:
            await driver.execute(statement.sql, statement.params)
        await driver.commit()


# Statements prepared on one driver connection, by (query, parameter types): the server
# plans each once per connection, as psycopg's own cursors arrange after a few runs.
_PREPARED = "hisaab.prepared_statements"
_MOST_PREPARED = 256  # past this, statements go unnamed (generated SQL would grow it forever)
_Key = tuple[bytes, tuple[int, ...]]
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name


async def _in_one_flush(
    conn: AsyncConnection, driver: DriverConnection[Any], statements: Sequence[Statement]
) -> None:
    """BEGIN, ``statements`` and COMMIT, written to the socket at once and answered together.

    psycopg's pipeline object would cost three round trips here (it waits for its BEGIN,
    and syncs again when it closes) and one socket write per statement; on a create that
    was most of the service's database CPU. This drives the same libpq pipeline directly,
    holding psycopg's connection lock, with psycopg's own parameter conversion, and keeps
    statements prepared per connection. The server's transaction status is the one
    psycopg reads afterwards, so the caller's commit or rollback goes on as usual.
    """
    _, failed = await _flush(conn, driver, statements)
    if failed is not None and failed.error_field(DiagnosticField.SQLSTATE) == _NO_SUCH_STATEMENT:
        # psycopg deallocates every prepared statement of the session when it rolls back
        # after preparing its own. Nothing else was in this transaction (it opened it), so
        # it is sent again from a clean slate.
        await driver.rollback()
        _, failed = await _flush(conn, driver, statements, forget=True)
    if failed is not None:
        # The server skipped the rest and left the transaction failed; the caller's
        # rollback (the unit of work's, on this exception) ends it.
        raise errors.error_from_result(failed, encoding=driver.info.encoding)


async def _flush(
    conn: AsyncConnection,
    driver: DriverConnection[Any],
    statements: Sequence[Statement],
    *,
    forget: bool = False,
    wrapped: bool = True,
) -> tuple[list[PGresult], PGresult | None]:
    """One pipeline: BEGIN, the statements, COMMIT (only the statements if not ``wrapped``);
    each statement's result, and the first error's result, if any."""
    if forget:
        conn.info.pop(_PREPARED, None)
    prepared: dict[_Key, bytes] = conn.info.setdefault(_PREPARED, {})
    pgconn = driver.pgconn
    transformer = Transformer.from_context(driver)
    newly: dict[int, tuple[_Key, bytes]] = {}  # result index → the statement it prepares
    executed: list[int] = []  # the result index of each statement
    async with driver.lock:
        pgconn.enter_pipeline_mode()
        try:
            if forget:
                pgconn.send_query_params(b"DEALLOCATE ALL", None)
            if wrapped:
                pgconn.send_query_params(b"BEGIN", None)
            sent = int(wrapped) + forget
            for statement in statements:
                query = PostgresQuery(transformer)
                query.convert(statement.sql, statement.params)
                key = (query.query, query.types)
                name = prepared.get(key)
                if name is None and len(prepared) < _MOST_PREPARED:
                    name = f"hisaab_{len(prepared) + len(newly)}".encode()
                    pgconn.send_prepare(name, query.query, param_types=query.types)
                    newly[sent] = (key, name)
                    sent += 1
                if name is None:
                    pgconn.send_query_params(
                        query.query, query.params, param_types=query.types, param_formats=query.formats
                    )
                else:
                    pgconn.send_query_prepared(name, query.params, param_formats=query.formats)
                executed.append(sent)
                sent += 1
            if wrapped:
                pgconn.send_query_params(b"COMMIT", None)
            pgconn.pipeline_sync()
            results = await driver.wait(_answers(pgconn))
            pgconn.exit_pipeline_mode()
        except BaseException:
            # Cut off mid-conversation (cancelled, or the connection failed): nothing can
            # say what the server has seen, so this connection is not used again.
            if driver.closed or driver.broken:
                disconnects.lost(conn)
            await conn.invalidate()
            raise
    failed = None
    for index, result in enumerate(results):
        if index in newly and result.status == ExecStatus.COMMAND_OK:
            key, name = newly[index]
            prepared[key] = name
        if failed is None and result.status == ExecStatus.FATAL_ERROR:
            failed = result
    return [results[i] for i in executed if i < len(results)], failed


def _answers(pgconn: PGconn) -> PQGen[list[PGresult]]:
    """Flushes what the pipeline holds, then reads one result per command up to the sync."""
    yield from generators.send(pgconn)
    results: list[PGresult] = []
    while True:
        result = yield from generators.fetch(pgconn)
        if result is None:
            continue  # the end of one command's results
        if result.status == ExecStatus.PIPELINE_SYNC:
            return results
        results.append(result)


def discard(conn: AsyncConnection) -> None:
    # The server may have ended the connection mid-transaction (a restart, say): it is invalid
    # and its info goes with it. Raising here would hide the error that ended it, which is the
    # retriable one the caller must see.
    with contextlib.suppress(PendingRollbackError):
        conn.info.pop(_DEFERRED, None)
        conn.info.pop(_LEADING, None)
