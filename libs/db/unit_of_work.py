"""The unit-of-work port: where a use case reads and writes, without knowing it is SQL.

A service describes what its use cases need from storage as one protocol (its
*repositories*: the service's own tables, plus the kit's idempotency keys and outbox,
and the ledger for the services that move money). A use case opens a unit of work and
gets those repositories bound to it:

    async with self._uow.transaction() as repos:   # all or nothing
        ...
    async with self._uow.read() as repos:          # a snapshot, maybe on a replica
        ...
    async with self._uow.read(snapshot=False) as repos:  # each read sees the latest commit
        ...

Two adapters provide it. :class:`SqlUnitOfWork` binds the service's SQL repositories to
a PostgreSQL transaction (the composition root builds it); :class:`MemoryUnitOfWork`
holds in-memory repositories, so a use case's rules can be tested without a database.
The SQL repositories keep their own integration tests on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from libs.db.database import Database

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class UnitOfWork(Protocol[R_co]):
    def transaction(self) -> AbstractAsyncContextManager[R_co]:
        """Repositories whose writes commit together when the block ends, or not at all."""

    def read(self, *, snapshot: bool = True) -> AbstractAsyncContextManager[R_co]:
        """Repositories for reading only (on a replica where there is one). With
        ``snapshot=False`` each read sees what was committed when it runs, rather than all
        of them one moment: cheaper (no transaction to open and close), for reads that
        need no agreement between them."""


class SqlUnitOfWork(Generic[R]):
    """Repositories bound to one connection of ``db``: ``bind`` builds them for it."""

    def __init__(self, db: Database, bind: Callable[[AsyncConnection], R]):
        self.db = db
        self._bind = bind

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[R]:
        async with self.db.transaction() as conn:
            yield self._bind(conn)

    @asynccontextmanager
    async def read(self, *, snapshot: bool = True) -> AsyncIterator[R]:
        async with self.db.read(snapshot=snapshot) as conn:
            yield self._bind(conn)


class MemoryUnitOfWork(Generic[R]):
    """In-memory repositories behind the same port.

    Transactions run one at a time (like SERIALIZABLE). One that raises leaves the
    repositories as they were: their attributes are restored from a copy taken when it
    began. Reach the state through ``uow.repositories`` rather than a reference kept
    from before a rollback, which the restore replaces.
    """

    def __init__(self, repositories: R):
        self.repositories = repositories
        self.commits = 0
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[R]:
        async with self._lock:
            state = vars(self.repositories)
            saved = copy.deepcopy(state)
            try:
                yield self.repositories
            except BaseException:
                state.clear()
                state.update(saved)
                raise
            self.commits += 1

    @asynccontextmanager
    async def read(self, *, snapshot: bool = True) -> AsyncIterator[R]:
        yield self.repositories
