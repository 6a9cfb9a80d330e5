"""Async engines on psycopg 3 and a unit of work per transaction.

Writes and read-your-writes reads go to the writer; plain reads may go to the
reader (the Aurora reader endpoint) when one is configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from libs.settings import SettingsError


def sqlalchemy_url(url: str, *, driver: str = "psycopg") -> str:
    """libpq URL (postgresql://...) → SQLAlchemy URL with the psycopg 3 driver."""
    if not url:
        raise SettingsError("DATABASE_URL is not set")
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SettingsError("DATABASE_URL must be a postgresql:// URL")
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


class Database:
    def __init__(
        self, writer_url: str, reader_url: str = "", *, pool_size: int = 10, application_name: str = ""
    ):
        args = {"application_name": application_name} if application_name else {}
        self.writer: AsyncEngine = create_async_engine(
            sqlalchemy_url(writer_url),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            connect_args=args,
        )
        self.reader: AsyncEngine = (
            create_async_engine(
                sqlalchemy_url(reader_url), pool_size=pool_size, pool_pre_ping=True, connect_args=args
            )
            if reader_url
            else self.writer
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A unit of work: commits when the block ends, rolls back on any exception."""
        async with self.writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot on the reader (or the writer when there is no reader)."""
        async with self.reader.connect() as conn:
            yield conn

    async def close(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
