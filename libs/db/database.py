"""Async engines on psycopg 3 and a unit of work per transaction.

Writes and read-your-writes reads go to the writer; plain reads may go to the
reader (the Aurora reader endpoint) when one is configured.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url
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
        pools.watch(f"{application_name or 'hisaab'}-writer", self.writer)
        if self.reader is not self.writer:
            pools.watch(f"{application_name or 'hisaab'}-reader", self.reader)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A unit of work: commits when the block ends, rolls back on any exception.
        Statements deferred with libs.db.batch.defer go out with the COMMIT."""
        async with self.writer.begin() as conn:
            batch.open_unit(conn)
            try:
                yield conn
                await batch.commit(conn)
            finally:
                batch.discard(conn)

    @asynccontextmanager
    async def read(self, *, snapshot: bool = True) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot on the reader (or the writer when there is no reader).

        ``snapshot=False``: no transaction at all, each statement sees what was committed
        when it runs. A single read then costs one round trip instead of three (psycopg
        waits for its BEGIN, and the pool's ROLLBACK is another)."""
        async with self.reader.connect() as conn:
            if snapshot:
                yield conn
                return
            # Autocommit is switched on psycopg's connection, for this checkout only: through
            # SQLAlchemy's isolation-level option, setting and resetting it cost about as
            # much CPU as the read itself.
            driver = await batch.driver_of(conn)
            await driver.set_autocommit(True)
            try:
                yield conn
            finally:
                try:
                    await driver.set_autocommit(False)
                except psycopg.Error:
                    await conn.invalidate()  # cut off mid-statement: not pooled again

    async def close(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
