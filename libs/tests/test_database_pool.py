"""A pooled connection that the server closed while it sat idle is replaced, not handed out."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import OperationalError

from libs.db import batch
from libs.db import database as database_module
from libs.db.database import Database

pytestmark = pytest.mark.integration


async def test_idle_connection_closed_by_the_server_is_replaced(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 0.2)
    db = Database(database_url, pool_size=1, application_name="hisaab-pool-test")
    try:
        async with db.transaction() as conn:
            first: int = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        # What a failover or a server restart does to the pooled connection.
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        await asyncio.sleep(0.3)

        async with db.transaction() as conn:
            second: int = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first
    finally:
        await db.close()


async def test_only_a_connection_left_idle_is_pinged(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 0.3)
    db = Database(database_url, pool_size=1, application_name="hisaab-pool-test")
    dialect = db.writer.sync_engine.dialect
    pings = 0
    real_ping = dialect.do_ping

    def counting_ping(dbapi_connection: Any) -> bool:
        nonlocal pings
        pings += 1
        return bool(real_ping(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    try:
        for _ in range(5):
            async with db.transaction() as conn:
                await conn.execute(text("SELECT 1"))
        assert pings == 0  # one round trip saved per request in steady use
        await asyncio.sleep(0.4)
        async with db.transaction() as conn:
            await conn.execute(text("SELECT 1"))
        assert pings == 1
    finally:
        await db.close()


async def test_a_read_without_a_snapshot_opens_no_transaction_and_leaves_none_behind(
    database_url: str,
) -> None:
    db = Database(database_url, pool_size=1)
    # One transaction's statements share its id; statements outside any get one each.
    xact = "SELECT pg_current_xact_id()::text"
    first: str
    second: str
    try:
        async with db.read(snapshot=False) as conn:
            pid: int = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            first, second = [(await conn.execute(text(xact))).scalar_one() for _ in range(2)]
        assert first != second
        async with db.read() as conn:
            # The same pooled connection, a snapshot again.
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() == pid
            first, second = [(await conn.execute(text(xact))).scalar_one() for _ in range(2)]
        assert first == second
    finally:
        await db.close()


@pytest.mark.parametrize("loser", ["statement", "unit sent with its commit"])
async def test_a_connection_lost_in_one_pool_gets_the_other_pools_checked(
    database_url: str, monkeypatch: pytest.MonkeyPatch, loser: str
) -> None:
    """A restart closes the writer's and the reader's connections alike; once one pool has
    lost one, the other checks its own before use instead of failing a request too."""
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 3600)  # only the loss may trigger it
    app = f"hisaab-two-pools-{uuid.uuid4().hex[:8]}"
    db = Database(database_url, database_url, pool_size=1, application_name=app)
    try:
        async with db.transaction() as conn:
            await conn.execute(text("SELECT 1"))
        async with db.read() as conn:
            await conn.execute(text("SELECT 1"))
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (app,)
            )
            for _ in range(500):  # until the server has ended them (a positive signal)
                ended = admin.execute(
                    "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = %s", (app,)
                ).fetchone()
                if ended == (True,):
                    break
                await asyncio.sleep(0.02)

        async def lose() -> None:
            # How the writer's pool learns it: through SQLAlchemy, or on the driver (libs.db.batch).
            async with db.transaction() as conn:
                if loser == "statement":
                    await conn.execute(text("SELECT 1"))
                else:
                    batch.defer(conn, batch.Statement("SELECT 1"))

        with pytest.raises((OperationalError, psycopg.OperationalError)):
            await lose()
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
        async with db.transaction() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await db.close()


async def _read_failing(db: Database) -> None:
    async with db.read(snapshot=False) as conn:
        await conn.execute(text("SELECT 1 / 0"))


async def test_a_failed_read_without_a_snapshot_leaves_its_connection_as_it_was(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    try:
        async with db.read(snapshot=False) as conn:
            pid: int = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            with pytest.raises(sa_exc.DBAPIError):
                await conn.execute(text("SELECT 1 / 0"))
        with pytest.raises(sa_exc.DBAPIError):  # and one whose error leaves the block
            await _read_failing(db)
        async with db.transaction() as conn:
            # The same pooled connection, in a transaction again: one id for both statements.
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() == pid
            xact = "SELECT pg_current_xact_id()::text"
            assert len({(await conn.execute(text(xact))).scalar_one() for _ in range(2)}) == 1
    finally:
        await db.close()


async def test_units_in_steady_use_take_no_connection_out_of_the_pool(database_url: str) -> None:
    """A unit of work keeps its connection out of SQLAlchemy's pool between units: checking
    one out and in cost more CPU than the unit's own round trip."""
    db = Database(database_url, pool_size=2)
    checkouts = 0

    @event.listens_for(db.writer.sync_engine, "checkout")
    def _counted(*_: Any) -> None:
        nonlocal checkouts
        checkouts += 1

    try:
        async with db.transaction() as conn:
            pid: int = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        for _ in range(5):
            async with db.transaction() as conn:
                batch.defer(conn, batch.Statement("SELECT 1"))
            async with db.read(snapshot=False) as conn:
                assert (await batch.fetch(conn, batch.Statement("SELECT pg_backend_pid()")))[0][0] == pid
        assert checkouts == 1
    finally:
        await db.close()


@pytest.mark.parametrize("fails", [False, True])
async def test_a_unit_through_both_sqlalchemy_and_the_driver_commits_or_rolls_back_as_one(
    database_url: str, fails: bool
) -> None:
    db = Database(database_url, pool_size=1)
    key = f"both-{uuid.uuid4()}"
    try:
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS kit.pool_probe (k text PRIMARY KEY)"))
        with contextlib.suppress(ZeroDivisionError):
            async with db.transaction() as conn:
                await conn.execute(text("INSERT INTO kit.pool_probe VALUES (:k)"), {"k": f"{key}-sqlalchemy"})
                await batch.run(
                    conn, [batch.Statement("INSERT INTO kit.pool_probe VALUES (%(k)s)", {"k": f"{key}-run"})]
                )
                batch.defer(
                    conn,
                    batch.Statement("INSERT INTO kit.pool_probe VALUES (%(k)s)", {"k": f"{key}-deferred"}),
                )
                if fails:
                    raise ZeroDivisionError
        async with db.read() as conn:
            found: int = (
                await conn.execute(
                    text("SELECT count(*) FROM kit.pool_probe WHERE k LIKE :k"), {"k": f"{key}-%"}
                )
            ).scalar_one()
        assert found == (0 if fails else 3)
        # Nothing was left open on the connection: this is a transaction of its own.
        async with db.transaction() as conn:
            xact = "SELECT pg_current_xact_id()::text"
            assert len({(await conn.execute(text(xact))).scalar_one() for _ in range(2)}) == 1
            assert (
                await conn.execute(
                    text("SELECT count(*) FROM kit.pool_probe WHERE k LIKE :k"), {"k": f"{key}-%"}
                )
            ).scalar_one() == found
    finally:
        await db.close()


async def test_a_connection_given_back_to_the_pool_leaves_autocommit_behind(database_url: str) -> None:
    """Reads without a snapshot leave a kept connection in autocommit; one that goes back to
    SQLAlchemy's pool (more were in use than are kept) goes back in transaction mode, as
    whoever uses the engine directly (the outbox relay) expects."""
    db = Database(database_url, pool_size=1)
    inside = 0
    both = asyncio.Event()

    async def reader() -> int:
        nonlocal inside
        async with db.read(snapshot=False) as conn:
            inside += 1
            if inside == 2:
                both.set()
            await both.wait()
            pid: int = (await batch.fetch(conn, batch.Statement("SELECT pg_backend_pid()")))[0][0]
            return pid

    try:
        pids = set(await asyncio.gather(reader(), reader()))
        assert len(pids) == 2
        async with db.writer.begin() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() in pids
            xact = "SELECT pg_current_xact_id()::text"
            assert len({(await conn.execute(text(xact))).scalar_one() for _ in range(2)}) == 1
    finally:
        await db.close()
