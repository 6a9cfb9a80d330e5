"""Pipelined statements and statements deferred to the COMMIT, on the real database."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from psycopg.errors import UniqueViolation
from sqlalchemy import text

from libs.db import batch
from libs.db.batch import Statement
from libs.db.database import Database

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(database_url: str) -> Database:
    database = Database(database_url, pool_size=2)
    async with database.transaction() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS kit.batch_probe (k text PRIMARY KEY, n int)"))
    return database


async def _value(db: Database, key: str) -> int | None:
    async with db.read() as conn:
        row = (await conn.execute(text("SELECT n FROM kit.batch_probe WHERE k = :k"), {"k": key})).first()
    return None if row is None else int(row[0])


async def test_pipelined_statements_run_in_order_and_return_their_rows(db: Database) -> None:
    key = str(uuid.uuid4())
    async with db.transaction() as conn:
        results = await batch.run(
            conn,
            [
                Statement("INSERT INTO kit.batch_probe (k, n) VALUES (%(k)s, 1) RETURNING n", {"k": key}),
                Statement("UPDATE kit.batch_probe SET n = n * 10 WHERE k = %(k)s", {"k": key}),
                Statement("SELECT n FROM kit.batch_probe WHERE k = %(k)s", {"k": key}),
            ],
        )
    assert [[r.n for r in rows] for rows in results] == [[1], [], [10]]
    assert await _value(db, key) == 10
    await db.close()


async def test_deferred_statements_go_with_the_commit_after_everything_else(db: Database) -> None:
    key = str(uuid.uuid4())
    async with db.transaction() as conn:
        batch.defer(conn, Statement("UPDATE kit.batch_probe SET n = n + 5 WHERE k = %(k)s", {"k": key}))
        # Not yet sent: the row it updates does not even exist yet.
        await batch.run(conn, [_insert(key, 1)])
    assert await _value(db, key) == 6
    await db.close()


def _insert(key: str, n: int) -> Statement:
    return Statement("INSERT INTO kit.batch_probe (k, n) VALUES (%(k)s, %(n)s)", {"k": key, "n": n})


async def _unit(db: Database, key: str, deferred: str, *, fail: bool) -> None:
    async with db.transaction() as conn:
        await batch.run(conn, [_insert(key, 1)])
        batch.defer(conn, Statement(deferred, {"k": key}))
        if fail:
            raise RuntimeError("changed my mind")


async def test_a_failed_unit_sends_nothing_it_deferred(db: Database) -> None:
    key = str(uuid.uuid4())
    with pytest.raises(RuntimeError, match="changed my mind"):
        await _unit(db, key, "UPDATE kit.batch_probe SET n = 99 WHERE k = %(k)s", fail=True)
    assert await _value(db, key) is None

    # A failing deferred statement fails the commit: the whole unit is rolled back.
    with pytest.raises(Exception, match="division by zero"):
        await _unit(db, key, "UPDATE kit.batch_probe SET n = 1 / 0 WHERE k = %(k)s", fail=False)
    assert await _value(db, key) is None

    # The pooled connection is usable afterwards, with nothing left over from either unit.
    async with db.transaction() as conn:
        await batch.run(conn, [_insert(key, 2)])
    assert await _value(db, key) == 2
    await db.close()


async def test_deferring_outside_a_unit_of_work_is_refused(db: Database) -> None:
    async with db.writer.begin() as conn:
        with pytest.raises(RuntimeError, match=r"Database\.transaction"):
            batch.defer(conn, Statement("SELECT 1"))
    await db.close()


def test_discard_leaves_the_error_that_ended_the_connection_to_the_caller() -> None:
    """After the server drops a connection mid-transaction even reading its info fails; the
    caller must still see the original (retriable) error, not this one."""
    from sqlalchemy.exc import PendingRollbackError

    class Ended:
        @property
        def info(self) -> dict[str, object]:
            raise PendingRollbackError("Can't reconnect until invalid transaction is rolled back")

    batch.discard(Ended())  # type: ignore[arg-type]


async def test_leading_statements_go_in_front_of_the_next_batch(db: Database) -> None:
    key, alone = str(uuid.uuid4()), str(uuid.uuid4())
    async with db.transaction() as conn:
        batch.lead(conn, Statement("INSERT INTO kit.batch_probe (k, n) VALUES (%(k)s, 2)", {"k": key}))
        [rows] = await batch.run(
            conn, [Statement("SELECT n FROM kit.batch_probe WHERE k = %(k)s", {"k": key})]
        )
        assert [r.n for r in rows] == [2]  # sent first, and its rows are not among the answers
    # With no batch after it, a leading statement goes with the COMMIT.
    async with db.transaction() as conn:
        batch.lead(conn, Statement("INSERT INTO kit.batch_probe (k, n) VALUES (%(k)s, 3)", {"k": alone}))
    assert (await _value(db, key), await _value(db, alone)) == (2, 3)


async def test_a_failing_leading_statement_fails_the_whole_unit(db: Database) -> None:
    key, other = str(uuid.uuid4()), str(uuid.uuid4())
    async with db.transaction() as conn:
        await batch.run(conn, [Statement("INSERT INTO kit.batch_probe (k, n) VALUES (%(k)s, 1)", {"k": key})])

    async def duplicate() -> None:
        async with db.transaction() as conn:
            batch.lead(conn, Statement("INSERT INTO kit.batch_probe (k, n) VALUES (%(k)s, 9)", {"k": key}))
            await batch.run(
                conn, [Statement("INSERT INTO kit.batch_probe (k, n) VALUES (%(k)s, 9)", {"k": other})]
            )

    with pytest.raises(UniqueViolation):
        await duplicate()
    assert (await _value(db, key), await _value(db, other)) == (1, None)


async def test_a_unit_sent_whole_with_its_commit_is_all_or_nothing(db: Database) -> None:
    taken, first, second = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    async with db.transaction() as conn:
        batch.defer(conn, _insert(taken, 1))

    async def unit(*keys: str) -> None:
        # Nothing runs before the commit: the BEGIN, the statements and the COMMIT go together.
        async with db.transaction() as conn:
            batch.lead(conn, _insert(keys[0], 7))
            batch.defer(conn, *(_insert(k, 7) for k in keys[1:]))

    with pytest.raises(UniqueViolation) as failure:
        await unit(first, taken, second)
    assert failure.value.diag.constraint_name == "batch_probe_pkey"
    assert (await _value(db, first), await _value(db, taken), await _value(db, second)) == (None, 1, None)
    # The same connection carries the next unit, which commits.
    await unit(first, second)
    assert (await _value(db, first), await _value(db, second)) == (7, 7)
    await db.close()


async def test_statements_sent_with_the_commit_are_planned_once_per_connection(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    bump = "UPDATE kit.batch_probe SET n = n + %(d)s WHERE k = %(k)s"

    async def unit(*statements: Statement) -> None:
        async with db.transaction() as conn:
            batch.defer(conn, *statements)

    async def prepared() -> list[str]:
        async with db.transaction() as conn:
            rows = await conn.execute(
                text("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'hisaab%'")
            )
            return sorted(r[0] for r in rows)

    key = str(uuid.uuid4())
    await unit(_insert(key, 1))
    for d in (1, 2, 3):
        await unit(Statement(bump, {"k": key, "d": d}))
    assert await _value(db, key) == 7
    assert len(await prepared()) == 2  # the insert and the update, each once
    # A statement the server refuses is not remembered as prepared; the next one is.
    with pytest.raises(Exception, match="syntax error"):
        await unit(Statement("UPDATE kit.batch_probe SET n = WHERE k = %(k)s", {"k": key}))
    await unit(Statement("UPDATE kit.batch_probe SET n = n * 2 WHERE k = %(k)s", {"k": key}))
    assert await _value(db, key) == 14
    assert len(await prepared()) == 3
    # psycopg deallocates every prepared statement when it rolls back after preparing its
    # own; a unit that finds its statements gone is sent again, once, and commits.
    async with db.transaction() as conn:
        await conn.execute(text("DEALLOCATE ALL"))
    await unit(Statement(bump, {"k": key, "d": 1}))
    assert await _value(db, key) == 15
    assert len(await prepared()) == 1
    await db.close()


async def test_a_unit_cut_off_while_waiting_leaves_no_connection_half_spoken(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    key, marker = str(uuid.uuid4()), f"cut-off-{uuid.uuid4()}"

    async def slow_unit() -> None:
        async with db.transaction() as conn:
            batch.defer(conn, _insert(key, 1), Statement(f"SELECT pg_sleep(30), '{marker}'"))

    task = asyncio.create_task(slow_unit())
    watcher = Database(database_url, pool_size=1)
    for _ in range(1000):  # the positive signal: the server is running the unit's last statement
        async with watcher.read() as conn:
            running: int = (
                await conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE :m AND state = 'active'"),
                    {"m": f"%{marker}%"},
                )
            ).scalar_one()
        if running:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the unit's statement never started")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Nothing of the unit was committed, and the pool hands out a connection that works.
    assert await _value(db, key) is None
    async with db.transaction() as conn:
        batch.defer(conn, _insert(key, 2))
    assert await _value(db, key) == 2
    await asyncio.gather(db.close(), watcher.close())


async def test_a_read_outside_a_transaction_returns_named_rows_and_survives_a_lost_plan(
    database_url: str,
) -> None:
    """Outside a transaction ``fetch`` goes as a prepared statement on libpq directly; psycopg
    dropping every prepared statement of the session (its rollback after preparing its own)
    must not fail the next read."""
    db = Database(database_url, pool_size=1)
    query = Statement("SELECT %(n)s::int AS n, 'x' || %(n)s::text AS label", {"n": 7})
    try:
        async with db.read(snapshot=False) as conn:
            rows = await batch.fetch(conn, query)
            assert [(r.n, r.label) for r in rows] == [(7, "x7")]
            assert await batch.fetch(conn, Statement("SELECT 1 WHERE false")) == []
        async with db.transaction() as conn:
            driver = await batch.driver_of(conn)
            await driver.execute("SELECT 1", prepare=True)  # psycopg prepares its own ...
            await driver.rollback()  # ... and deallocates them all when it rolls back
        async with db.read(snapshot=False) as conn:
            assert (await batch.fetch(conn, query))[0].label == "x7"
            with pytest.raises(psycopg.errors.DivisionByZero):
                await batch.fetch(conn, Statement("SELECT 1 / %(z)s::int AS q", {"z": 0}))
            # The failure ended nothing: the same connection answers the next read.
            assert (await batch.fetch(conn, query))[0].n == 7
    finally:
        await db.close()
