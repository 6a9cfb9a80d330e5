"""The ledger's writes and balance reads: post, replace, reverse or restore an entry; read balances.

Every change runs inside the caller's transaction. Balances are updated with
one atomic ``net = net + delta`` upsert per change, rows taken in user-id order
so concurrent writers lock in the same order and cannot deadlock. Edits apply
the difference, deletes reverse the entry, restores re-apply it; balances are
never recomputed from the entries on a read.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.db import batch
from libs.db.arrays import bigint_array, text_array
from libs.db.batch import Statement
from libs.ledger import versions
from libs.ledger.postings import Posting, Postings, check_balanced, diff


@dataclass(frozen=True)
class Entry:
    id: str
    group_id: str
    kind: str
    currency: str
    total_minor: int
    active: bool
    version: int
    postings: dict[str, Posting]


def _apply_statement(group_id: str, currency: str, deltas: Mapping[str, int]) -> Statement | None:
    if not deltas:
        return None
    users = sorted(deltas)
    # The group's version row is the first lock every ledger write takes (writers of one
    # group queue in one order, and caches keyed on (group, version) never serve stale
    # data): the balance rows are built from the bump's output, so none can be locked
    # before it, and they are then taken in user order.
    return Statement(
        f"WITH bumped AS ({versions.BUMP}) "
        "INSERT INTO ledger.balances (group_id, user_id, currency, net_minor) "
        "SELECT bumped.group_id, u, %(c)s, d "
        "FROM bumped, unnest(%(users)s::text[], %(deltas)s::bigint[]) AS t(u, d) ORDER BY u "
        "ON CONFLICT (group_id, user_id, currency) "
        "DO UPDATE SET net_minor = ledger.balances.net_minor + EXCLUDED.net_minor",
        {
            "g": group_id,
            "c": currency,
            "users": text_array(users),
            "deltas": bigint_array(deltas[u] for u in users),
        },
    )


async def _apply(conn: AsyncConnection, group_id: str, currency: str, deltas: Mapping[str, int]) -> None:
    statement = _apply_statement(group_id, currency, deltas)
    if statement is not None:
        await batch.run(conn, [statement])


_POSTING_ROWS = "unnest(%(users)s::text[], %(paid)s::bigint[], %(owed)s::bigint[]) AS t(u, p, o)"


def _posting_arrays(entry_id: str, postings: Postings) -> dict[str, object]:
    users = sorted(postings)
    return {
        "e": entry_id,
        "users": text_array(users),
        "paid": bigint_array(postings[u].paid_minor for u in users),
        "owed": bigint_array(postings[u].owed_minor for u in users),
    }


async def _write_postings(conn: AsyncConnection, entry_id: str, postings: Postings) -> None:
    await batch.run(
        conn,
        [
            Statement(
                "INSERT INTO ledger.postings (entry_id, user_id, paid_minor, owed_minor) "
                f"SELECT %(e)s::uuid, u, p, o FROM {_POSTING_ROWS}",
                _posting_arrays(entry_id, postings),
            )
        ],
    )


@dataclass(frozen=True)
class NewEntry:
    """A new entry's statements, for a caller that sends them with its own (libs.db.batch)."""

    entry: Statement  # the entry and its postings: new rows only, no lock anyone waits on
    balances: Statement | None  # the group's version and balances: best deferred to the commit


def record_statements(
    *,
    group_id: str,
    kind: str,
    currency: str,
    total_minor: int,
    postings: Postings,
    entry_id: str,
) -> NewEntry:
    """A new active entry and its nets added to the balances. Every writer of the group
    queues on the version row the balance statement locks, so send it last
    (``batch.defer``) to hold that lock for one round trip."""
    check_balanced(postings, total_minor)
    # The postings' foreign key is checked at the end of the statement, when the entry is there.
    entry = Statement(
        "WITH entry AS (INSERT INTO ledger.entries (id, group_id, kind, currency, total_minor) "
        "VALUES (%(e)s, %(g)s, %(k)s, %(c)s, %(t)s) RETURNING id) "
        "INSERT INTO ledger.postings (entry_id, user_id, paid_minor, owed_minor) "
        f"SELECT entry.id, u, p, o FROM entry, {_POSTING_ROWS}",
        {"g": group_id, "k": kind, "c": currency, "t": total_minor, **_posting_arrays(entry_id, postings)},
    )
    return NewEntry(entry, _apply_statement(group_id, currency, diff({}, postings)))


async def record(
    conn: AsyncConnection,
    *,
    group_id: str,
    kind: str,
    currency: str,
    total_minor: int,
    postings: Postings,
    entry_id: str | None = None,
) -> str:
    """A new active entry; its nets are added to the balances. Returns the entry id."""
    entry_id = entry_id or str(uuid.uuid4())
    new = record_statements(
        group_id=group_id,
        kind=kind,
        currency=currency,
        total_minor=total_minor,
        postings=postings,
        entry_id=entry_id,
    )
    await batch.run(conn, [new.entry] if new.balances is None else [new.entry, new.balances])
    return entry_id


async def get(conn: AsyncConnection, entry_id: str, *, lock: bool = False) -> Entry | None:
    row = (
        await conn.execute(
            text(
                "SELECT id, group_id, kind, currency, total_minor, active, version FROM ledger.entries "
                "WHERE id = :id" + (" FOR UPDATE" if lock else "")
            ),
            {"id": entry_id},
        )
    ).first()
    if row is None:
        return None
    rows = await conn.execute(
        text("SELECT user_id, paid_minor, owed_minor FROM ledger.postings WHERE entry_id = :id"),
        {"id": entry_id},
    )
    return Entry(
        id=str(row.id),
        group_id=str(row.group_id),
        kind=row.kind,
        currency=row.currency,
        total_minor=int(row.total_minor),
        active=row.active,
        version=row.version,
        postings={r.user_id: Posting(int(r.paid_minor), int(r.owed_minor)) for r in rows},
    )


async def _locked(conn: AsyncConnection, entry_id: str) -> Entry:
    entry = await get(conn, entry_id, lock=True)
    if entry is None:
        raise LookupError(f"ledger entry {entry_id} does not exist")
    return entry


async def replace(
    conn: AsyncConnection, entry_id: str, *, currency: str, total_minor: int, postings: Postings
) -> None:
    """An edit: balances move by the difference between the old and new postings."""
    check_balanced(postings, total_minor)
    old = await _locked(conn, entry_id)
    if old.active:
        if old.currency == currency:
            await _apply(conn, old.group_id, currency, diff(old.postings, postings))
        else:
            await _apply(conn, old.group_id, old.currency, diff(old.postings, {}))
            await _apply(conn, old.group_id, currency, diff({}, postings))
    await conn.execute(text("DELETE FROM ledger.postings WHERE entry_id = :id"), {"id": entry_id})
    await _write_postings(conn, entry_id, postings)
    await conn.execute(
        text(
            "UPDATE ledger.entries SET currency = :c, total_minor = :t, version = version + 1, "
            "updated_at = now() WHERE id = :id"
        ),
        {"c": currency, "t": total_minor, "id": entry_id},
    )


async def set_active(conn: AsyncConnection, entry_id: str, active: bool) -> bool:
    """Delete (reverse) or restore (re-apply) an entry. False when it already was in that state."""
    entry = await _locked(conn, entry_id)
    if entry.active == active:
        return False
    deltas = diff({}, entry.postings) if active else diff(entry.postings, {})
    await _apply(conn, entry.group_id, entry.currency, deltas)
    await conn.execute(
        text(
            "UPDATE ledger.entries SET active = :a, version = version + 1, updated_at = now() WHERE id = :id"
        ),
        {"a": active, "id": entry_id},
    )
    return True


async def postings_of(conn: AsyncConnection, entry_ids: list[str]) -> dict[str, dict[str, Posting]]:
    """Postings of several entries in one query: entry id → user → posting."""
    if not entry_ids:
        return {}
    rows = await conn.execute(
        text(
            "SELECT entry_id, user_id, paid_minor, owed_minor FROM ledger.postings "
            "WHERE entry_id = ANY(CAST(:ids AS uuid[]))"
        ),
        {"ids": entry_ids},
    )
    out: dict[str, dict[str, Posting]] = {}
    for r in rows:
        out.setdefault(str(r.entry_id), {})[r.user_id] = Posting(int(r.paid_minor), int(r.owed_minor))
    return out


async def group_balances(conn: AsyncConnection, group_id: str) -> dict[str, dict[str, int]]:
    """currency → user → net (non-zero only)."""
    rows = await conn.execute(
        text(
            "SELECT currency, user_id, net_minor FROM ledger.balances "
            "WHERE group_id = :g AND net_minor <> 0 ORDER BY currency, user_id"
        ),
        {"g": group_id},
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r.currency, {})[r.user_id] = int(r.net_minor)
    return out


async def user_balances(conn: AsyncConnection, user_id: str) -> dict[str, dict[str, int]]:
    """group → currency → the user's net (non-zero only)."""
    rows = await conn.execute(
        text(
            "SELECT group_id, currency, net_minor FROM ledger.balances "
            "WHERE user_id = :u AND net_minor <> 0 ORDER BY group_id, currency"
        ),
        {"u": user_id},
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(str(r.group_id), {})[r.currency] = int(r.net_minor)
    return out


async def member_balance(conn: AsyncConnection, group_id: str, user_id: str) -> dict[str, int]:
    rows = await conn.execute(
        text(
            "SELECT currency, net_minor FROM ledger.balances "
            "WHERE group_id = :g AND user_id = :u AND net_minor <> 0"
        ),
        {"g": group_id, "u": user_id},
    )
    return {r.currency: int(r.net_minor) for r in rows}


async def balances_from_postings(conn: AsyncConnection, group_id: str) -> dict[str, dict[str, int]]:
    """The same shape as group_balances, recomputed from active postings: for invariant checks only."""
    rows = await conn.execute(
        text(
            "SELECT e.currency, p.user_id, sum(p.paid_minor - p.owed_minor) AS net "
            "FROM ledger.entries e JOIN ledger.postings p ON p.entry_id = e.id "
            "WHERE e.group_id = :g AND e.active GROUP BY e.currency, p.user_id "
            "HAVING sum(p.paid_minor - p.owed_minor) <> 0 ORDER BY 1, 2"
        ),
        {"g": group_id},
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r.currency, {})[r.user_id] = int(r.net)
    return out
