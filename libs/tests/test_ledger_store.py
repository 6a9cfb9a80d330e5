"""The ledger store on real PostgreSQL.

Edits apply differences, deletes reverse, concurrent writers stay exact.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator

import pytest

from libs.db.database import Database
from libs.ledger import store
from libs.ledger.postings import Posting, UnbalancedEntry

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=20)
    yield database
    await database.close()


async def _consistent(db: Database, group: str) -> dict[str, dict[str, int]]:
    async with db.read() as conn:
        balances = await store.group_balances(conn, group)
        assert balances == await store.balances_from_postings(conn, group)
    for nets in balances.values():
        assert sum(nets.values()) == 0
    return balances


async def test_record_edit_delete_restore(db: Database) -> None:
    group = str(uuid.uuid4())
    async with db.transaction() as conn:
        entry = await store.record(
            conn,
            group_id=group,
            kind="expense",
            currency="INR",
            total_minor=900,
            postings={"a": Posting(900, 300), "b": Posting(0, 300), "c": Posting(0, 300)},
        )
    assert await _consistent(db, group) == {"INR": {"a": 600, "b": -300, "c": -300}}

    async with db.transaction() as conn:  # edit: c drops out, b pays part
        await store.replace(
            conn,
            entry,
            currency="INR",
            total_minor=1000,
            postings={"a": Posting(600, 500), "b": Posting(400, 500)},
        )
    assert await _consistent(db, group) == {"INR": {"a": 100, "b": -100}}

    async with db.transaction() as conn:  # change currency
        await store.replace(
            conn, entry, currency="USD", total_minor=10, postings={"a": Posting(10, 5), "b": Posting(0, 5)}
        )
    assert await _consistent(db, group) == {"USD": {"a": 5, "b": -5}}

    async with db.transaction() as conn:
        assert await store.set_active(conn, entry, False)
        assert not await store.set_active(conn, entry, False)  # deleting twice changes nothing
    assert await _consistent(db, group) == {}

    async with db.transaction() as conn:
        assert await store.set_active(conn, entry, True)
    assert await _consistent(db, group) == {"USD": {"a": 5, "b": -5}}


async def test_unbalanced_entry_is_refused_and_nothing_is_written(db: Database) -> None:
    group = str(uuid.uuid4())
    with pytest.raises(UnbalancedEntry):
        async with db.transaction() as conn:
            await store.record(
                conn,
                group_id=group,
                kind="expense",
                currency="INR",
                total_minor=100,
                postings={"a": Posting(100, 60), "b": Posting(0, 39)},
            )
    assert await _consistent(db, group) == {}


async def test_concurrent_writers_keep_balances_exact(db: Database) -> None:
    group = str(uuid.uuid4())
    users = [f"u{i}" for i in range(8)]

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(10):
            people = rng.sample(users, rng.randint(2, len(users)))
            total = rng.randint(1, 10**9)
            share, extra = divmod(total, len(people))
            postings = {
                p: Posting(total if i == 0 else 0, share + (1 if i < extra else 0))
                for i, p in enumerate(people)
            }
            async with db.transaction() as conn:
                await store.record(
                    conn, group_id=group, kind="expense", currency="INR", total_minor=total, postings=postings
                )

    await asyncio.gather(*(writer(s) for s in range(16)))
    balances = await _consistent(db, group)
    assert set(balances["INR"]) <= set(users)
