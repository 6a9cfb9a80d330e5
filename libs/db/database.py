"""Async engines on psycopg 3 and a unit of work per transaction.

Writes and read-your-writes reads go to the writer; plain reads may go to the
reader (the Aurora reader endpoint) when one is configured.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection as DriverConnection
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from libs.db import batch
from libs.db.disconnects import Disconnects
from libs.metrics import pools
from libs.settings import SettingsError

# A pooled connection idle longer than this is pinged before use (a failover or restart
# may have closed it); one in steady use is not, which saves a round trip per request.
PING_AFTER_IDLE_SECONDS = 1.0


def sqlalchemy_url(url: str, *, driver: str = "psycopg") -> str:
    """libpq URL (postgresql://...) → SQLAlchemy URL with the psycopg 3 driver."""
    if not url:
        raise SettingsError("DATABASE_URL is not set")
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SettingsError("DATABASE_URL must be a postgresql:// URL")
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def _ping_when_idle(engine: AsyncEngine, disconnects: Disconnects) -> AsyncEngine:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None:
            return  # new
        if time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS and idle_since > disconnects.last:
            return  # in steady use, and no connection was lost since
        try:
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as err:
            # The pool drops this connection and checks out (or opens) another.
            raise DisconnectionError(str(err)) from err

    disconnects.watch(engine)
    return engine


def _engine(url: str, pool_size: int, args: dict[str, str], disconnects: Disconnects) -> AsyncEngine:
    return _ping_when_idle(
        create_async_engine(
            sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size, connect_args=args
        ),
        disconnects,
    )


class _Kept:
    """Connections of one engine kept checked out between units of work.

    Checking a connection out of SQLAlchemy's pool and back in, and beginning and ending
    its transaction there, cost about 0.2 ms of CPU per unit of work (four hops through
    its greenlet bridge, the pool's bookkeeping and events), more than the unit's own
    round trip to PostgreSQL. A unit takes one of these instead and returns it when it
    ends; the transaction is psycopg's, which opens it with the first statement.
    SQLAlchemy is only asked to end one when a statement went through it.

    The same rule as the pool's applies: a connection that sat idle for longer than
    PING_AFTER_IDLE_SECONDS, or across a lost connection anywhere, is pinged first."""

    def __init__(self, engine: AsyncEngine, disconnects: Disconnects, most: int):
        self._engine = engine
        self._disconnects = disconnects
        self._most = most
        self._idle: list[tuple[AsyncConnection, float]] = []  # the last returned is the first taken

    def __len__(self) -> int:
        return len(self._idle)

    async def take(self) -> AsyncConnection:
        while self._idle:
            conn, idle_since = self._idle.pop()
            if (
                time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS
                and idle_since > self._disconnects.last
            ):
                return conn
            if await self._answers(conn):
                return conn
        return await self._engine.connect()

    async def _answers(self, conn: AsyncConnection) -> bool:
        dialect = self._engine.sync_engine.dialect

        def ping(sync: Connection) -> None:
            raw = sync.connection.dbapi_connection
            if raw is None:
                raise DisconnectionError("the connection is closed")
            dialect.do_ping(raw)

        try:
            await conn.run_sync(ping)
        except Exception:
            # Lost: the others kept idle across the same moment are pinged too.
            self._disconnects.last = time.monotonic()
            await _drop(conn)
            await conn.close()
            return False
        return True

    @asynccontextmanager
    async def unit(self, *, autocommit: bool) -> AsyncIterator[tuple[AsyncConnection, DriverConnection[Any]]]:
        """A connection for one unit of work, in the mode it needs; given back when the unit
        ends, after rolling back what an error left (or dropping it if that cannot be said)."""
        conn = await self.take()
        try:
            driver = await batch.driver_of(conn)
            if driver.autocommit != autocommit:
                # Switched on psycopg's connection, where it stays until a unit needs the
                # other mode: a service whose units are mostly reads without a snapshot
                # does not switch it twice per read. (Through SQLAlchemy's isolation-level
                # option, switching cost about as much CPU as the read itself.)
                await driver.set_autocommit(autocommit)
            try:
                yield conn, driver
            except Exception:
                await _settle(conn, driver)
                raise
            except BaseException:
                await _drop(conn)  # cancelled: whatever was under way is unknown
                raise
        finally:
            await self.give_back(conn)

    async def give_back(self, conn: AsyncConnection) -> None:
        if _usable(conn) and len(self._idle) < self._most:
            self._idle.append((conn, time.monotonic()))
            return
        if _usable(conn):
            # Back to SQLAlchemy's pool as it was handed out: whoever uses the engine
            # directly (the outbox relay, say) expects transactions.
            driver = await batch.driver_of(conn)
            if driver.autocommit:
                try:
                    await driver.set_autocommit(False)
                except psycopg.Error:
                    await _drop(conn)
        await conn.close()  # to SQLAlchemy's pool, which discards an invalidated one

    async def close(self) -> None:
        idle, self._idle, self._most = self._idle, [], 0
        for conn, _ in idle:
            await self.give_back(conn)


async def _drop(conn: AsyncConnection) -> None:
    """Marks ``conn`` as not to be used again (its protocol state is unknown, or it is
    gone); closing it then discards it instead of returning it to the pool."""
    with contextlib.suppress(Exception):
        await conn.invalidate()


def _usable(conn: AsyncConnection) -> bool:
    return not conn.closed and not conn.invalidated


async def _end(conn: AsyncConnection, driver: DriverConnection[Any], *, commit: bool) -> None:
    """Ends the unit's transaction, through SQLAlchemy if a statement went through it
    (it then holds a transaction of its own), else on psycopg."""
    if conn.in_transaction():
        await (conn.commit() if commit else conn.rollback())
    elif driver.pgconn.transaction_status != TransactionStatus.IDLE:
        await (driver.commit() if commit else driver.rollback())


class Database:
    def __init__(
        self, writer_url: str, reader_url: str = "", *, pool_size: int = 10, application_name: str = ""
    ):
        args = {"application_name": application_name} if application_name else {}
        disconnects = Disconnects()
        self.writer: AsyncEngine = _engine(writer_url, pool_size, args, disconnects)
        self.reader: AsyncEngine = (
            _engine(reader_url, pool_size, args, disconnects) if reader_url else self.writer
        )
        self._kept_writer = _Kept(self.writer, disconnects, pool_size)
        self._kept_reader = (
            _Kept(self.reader, disconnects, pool_size)
            if self.reader is not self.writer
            else self._kept_writer
        )
        pools.watch(f"{application_name or 'hisaab'}-writer", self.writer, kept=self._kept_writer.__len__)
        if self.reader is not self.writer:
            pools.watch(f"{application_name or 'hisaab'}-reader", self.reader, kept=self._kept_reader.__len__)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A unit of work: commits when the block ends, rolls back on any exception.
        Statements deferred with libs.db.batch.defer go out with the COMMIT."""
        async with self._kept_writer.unit(autocommit=False) as (conn, driver):
            batch.open_unit(conn)
            try:
                yield conn
                await batch.commit(conn)
                await _end(conn, driver, commit=True)
            finally:
                if _usable(conn):  # else its info went with it (and reading it reconnects)
                    batch.discard(conn)

    @asynccontextmanager
    async def read(self, *, snapshot: bool = True) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot on the reader (or the writer when there is no reader).

        ``snapshot=False``: no transaction at all, each statement sees what was committed
        when it runs. A single read then costs one round trip instead of three (psycopg
        waits for its BEGIN, and the ROLLBACK at the end is another)."""
        async with self._kept_reader.unit(autocommit=not snapshot) as (conn, driver):
            yield conn
            if _usable(conn):
                await _end(conn, driver, commit=False)

    async def close(self) -> None:
        await self._kept_writer.close()
        await self._kept_reader.close()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


async def _settle(conn: AsyncConnection, driver: DriverConnection[Any]) -> None:
    """Rolls back after an error without hiding it; a connection that cannot is dropped."""
    if not _usable(conn):
        return
    try:
        await _end(conn, driver, commit=False)
    except Exception:
        await _drop(conn)
