"""A per-group ledger version: a counter bumped in the same transaction as every balance change.

Readers key cached balances (and anything derived from them) on ``(group, version)``:
a ledger write moves the version, so every older cache entry stops being read. No
writer has to know about the cache, and a missed Redis delete cannot leave a stale
value behind.

Only ``libs.ledger.store`` runs :data:`BUMP`, before it touches any balance row of
the group. The version row is then the first lock a ledger write takes in a group,
so writers of one group queue on it in one order and a transaction that updates
balances in two currencies cannot deadlock with another writer of the same group.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from libs.db import batch
from libs.db.batch import Statement

# Moves the group's version forward inside the writer's transaction; returns group_id.
# libs.ledger.store runs it as the first part of its balance statement (psycopg placeholders).
BUMP = (
    "INSERT INTO ledger.group_versions (group_id, version) VALUES (%(g)s::uuid, 1) "
    "ON CONFLICT (group_id) DO UPDATE SET version = ledger.group_versions.version + 1 "
    "RETURNING group_id"
)


async def current(conn: AsyncConnection, group_id: str) -> int:
    """The group's version; 0 for a group whose ledger was never written.

    Read it *before* the balances it labels: under READ COMMITTED a later statement
    can only see newer balances, so a value is never cached under a newer version
    than the data it holds.
    """
    rows = await batch.fetch(
        conn,
        Statement("SELECT version FROM ledger.group_versions WHERE group_id = %(g)s::uuid", {"g": group_id}),
    )
    return int(rows[0].version) if rows else 0
