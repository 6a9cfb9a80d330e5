"""The auth repositories' SQL on PostgreSQL, where the in-memory fakes cannot vouch for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from services.auth.domain import Contact
from services.auth.repository import SqlAuthRepositories

pytestmark = pytest.mark.integration


async def test_a_challenge_whose_code_was_never_sent_can_be_forgotten(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    uow = SqlUnitOfWork(db, SqlAuthRepositories)
    # A number no other test signs in with: +91 98 followed by 8 random digits.
    contact = Contact.phone(f"+9198{uuid.uuid4().int % 10**8:08d}")
    kept, forgotten = str(uuid.uuid4()), str(uuid.uuid4())
    since = datetime.now(UTC) - timedelta(minutes=5)
    try:
        async with uow.transaction() as repos:
            for challenge_id in (kept, forgotten):
                await repos.insert_challenge(challenge_id, contact, None, "", since + timedelta(hours=1))
        async with uow.transaction() as repos:
            await repos.forget_challenge(forgotten)
        async with uow.read() as repos:
            assert (await repos.recent_challenges(contact, since))[1] == 1
            assert await repos.challenge_for_update(forgotten) is None
            assert await repos.challenge_for_update(kept) is not None
    finally:
        await db.close()
