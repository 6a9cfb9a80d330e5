"""What every service's repositories carry, whatever else they hold: the kit's
idempotency keys and outbox, inside the same unit of work as the service's own rows.

A service's SQL repositories extend :class:`SqlRepositories` (bound to one
transaction's connection by libs.db.unit_of_work.SqlUnitOfWork); its in-memory
repositories for use-case tests extend :class:`MemoryRepositories`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from libs.idempotency import MemoryKeys, SqlKeys
from libs.outbox import MemoryOutbox, SqlOutbox


class SqlRepositories:
    def __init__(self, conn: AsyncConnection):
        self.conn = conn
        self.keys = SqlKeys(conn)
        self.outbox = SqlOutbox(conn)


class MemoryRepositories:
    def __init__(self) -> None:
        self.keys = MemoryKeys()
        self.outbox = MemoryOutbox()
