"""Use cases on the real database with fake peers (group and auth services).

ListConvertedDebts is gated by a paid feature at the server, so its arithmetic
is exercised here rather than through the gateway.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import grpc
import pytest
import redis.asyncio as redis

from libs.cache import Cache
from libs.clients.rosters import Roster, RosterCache
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.errors import InvalidArgument, NotFound
from libs.ledger import store
from libs.ledger.postings import Posting
from services.settlement.balance_cache import BalanceCache
from services.settlement.peers import GroupDirectory
from services.settlement.rates.reference import ReferenceRates
from services.settlement.repository import SqlSettlementRepositories
from services.settlement.tests.fakes import FakeGroups, FakeUsers, FixedSource
from services.settlement.usecases import SettlementUseCases
from tools.devstack.stack import Stack

pytestmark = pytest.mark.integration

# These tests are about what is read, not about a slow moment: a generous bound keeps a
# stalled test process (a busy CI machine) from turning a hit into a miss.
PATIENT_SECONDS = 5.0


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    await database.close()


async def _record(db: Database, group: str, currency: str, nets: Mapping[str, int]) -> None:
    postings = {u: Posting(v, 0) if v > 0 else Posting(0, -v) for u, v in nets.items()}
    async with db.transaction() as conn:
        await store.record(
            conn,
            group_id=group,
            kind="expense",
            currency=currency,
            total_minor=sum(v for v in nets.values() if v > 0),
            postings=postings,
        )


def _usecases(db: Database, group: str, members: list[str]) -> SettlementUseCases:
    # A cache without a server: every read is a miss, as with Redis down.
    return SettlementUseCases(
        SqlUnitOfWork(db, SqlSettlementRepositories),
        FakeGroups({group: members}),
        FakeUsers(),
        BalanceCache(Cache("", prefix="t")),
    )


async def test_converted_debts_use_the_given_rates(db: Database) -> None:
    group = str(uuid.uuid4())
    uc = _usecases(db, group, ["a", "b", "c"])
    await _record(db, group, "INR", {"a": 10000, "b": -10000})
    await _record(db, group, "USD", {"b": 300, "c": -300})  # 3 USD at 83.50 = 250.50 INR

    given = await uc.converted_debts("a", group, "INR", {"USD": "83.50", "EUR": "90"})
    transfers, optimal = given.transfers, given.optimal
    assert given.rates == {"USD": "83.50"}  # only the currencies with open balances
    assert given.reference is None
    assert optimal
    assert {t.currency for t in transfers} == {"INR"}
    left = {"a": 10000, "b": -10000 + 25050, "c": -25050}
    for t in transfers:
        left[t.payer] += t.amount_minor
        left[t.payee] -= t.amount_minor
    assert set(left.values()) == {0}
    assert len(transfers) == 2

    # Converting to USD instead: 100.00 INR at 0.012 = 1.20 USD.
    to_usd = await uc.converted_debts("a", group, "USD", {"INR": "0.012"})
    assert to_usd.rates == {"INR": "0.012"}
    assert sorted((t.payer, t.payee, t.amount_minor) for t in to_usd.transfers) == [
        ("c", "a", 120),
        ("c", "b", 180),
    ]

    with pytest.raises(InvalidArgument) as missing:
        await uc.converted_debts("a", group, "INR", {})
    assert missing.value.field == "rates" and "USD" in missing.value.description
    with pytest.raises(NotFound):
        await uc.converted_debts("stranger", group, "INR", {"USD": "83.50"})


async def test_balances_of_someone_who_left_are_still_shown(db: Database) -> None:
    group = str(uuid.uuid4())
    await _record(db, group, "INR", {"a": 500, "gone": -500})
    members = await _usecases(db, group, ["a", "b"]).group_balances("a", group, "")
    assert [(m.user_id, m.display_name, m.nets) for m in members] == [
        ("a", "A", {"INR": 500}),
        ("b", "B", {}),
        ("gone", "GONE", {"INR": -500}),
    ]


def _old_day() -> date:
    """A day of its own, long before anything the stack's rates source publishes."""
    return date(1990, 1, 1) + timedelta(days=uuid.uuid4().int % 3000)


async def test_stored_reference_rates_convert_and_name_their_day(db: Database) -> None:
    group = str(uuid.uuid4())
    day = _old_day()
    published = ReferenceRates(day, "ecb", "EUR", {"INR": Decimal("90"), "USD": Decimal("1.08")})
    uc = SettlementUseCases(
        SqlUnitOfWork(db, SqlSettlementRepositories),
        FakeGroups({group: ["a", "b", "c"]}),
        FakeUsers(),
        BalanceCache(Cache("", prefix="t")),
        FixedSource(published),
    )
    assert await uc.refresh_rates() == (published, True)
    assert await uc.refresh_rates() == (published, False)  # the day is stored once

    await _record(db, group, "INR", {"a": 10000, "b": -10000})
    await _record(db, group, "USD", {"b": 300, "c": -300})
    # One dollar is 90 / 1.08 = 83.333... rupees, rounded once to ten places.
    result = await uc.converted_debts("a", group, "INR", None, day)
    assert result.rates == {"USD": "83.3333333333"}
    assert result.reference is not None and result.reference.day == day
    nets = {"a": 10000, "b": -10000 + 25000, "c": -25000}
    for t in result.transfers:
        nets[t.payer] += t.amount_minor
        nets[t.payee] -= t.amount_minor
    assert set(nets.values()) == {0}

    # Each currency's value in rupees, as GetExchangeRates lists them.
    reference, rates = await uc.exchange_rates("INR", day)
    assert reference.day == day and rates == {"EUR": "90", "USD": "83.3333333333"}

    with pytest.raises(InvalidArgument) as unknown:
        await uc.converted_debts("a", group, "JPY", None, day)
    assert unknown.value.field == "convert_to" and "JPY" in unknown.value.description
    with pytest.raises(InvalidArgument) as none_stored:
        await uc.converted_debts("a", group, "INR", None, date(1989, 12, 31))
    assert none_stored.value.field == "rates_date"


async def test_a_cached_balance_read_is_one_cache_round_trip(
    db: Database, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = str(uuid.uuid4())
    assert stack.valkey is not None
    rosters = RosterCache(Cache(stack.valkey.url, prefix="roster", timeout=PATIENT_SECONDS))
    cache = Cache(stack.valkey.url, prefix=f"t{uuid.uuid4().hex[:8]}", timeout=PATIENT_SECONDS)
    # The roster is cached, so group-service (nothing listens here) is never asked.
    channel = grpc.aio.insecure_channel("127.0.0.1:9")
    try:
        await rosters.publish(Roster(group, "trip", 1, {"a": "Asha", "b": "Ravi"}))
        uc = SettlementUseCases(
            SqlUnitOfWork(db, SqlSettlementRepositories),
            GroupDirectory(channel, rosters),
            FakeUsers(),
            BalanceCache(cache),
        )
        await _record(db, group, "INR", {"a": 500, "b": -500})
        first = await uc.group_balances("a", group, "")  # computes and caches the balances
        sent: list[str] = []
        original: Any = redis.Redis.execute_command

        async def counting(self: redis.Redis, *args: Any, **options: Any) -> Any:
            sent.append(str(args[0]))
            return await original(self, *args, **options)

        monkeypatch.setattr(redis.Redis, "execute_command", counting)
        assert await uc.group_balances("a", group, "") == first
        assert [(m.user_id, m.display_name) for m in first] == [("a", "Asha"), ("b", "Ravi")]
        assert sent == ["MGET"]  # the roster and the balances together
        sent.clear()
        with pytest.raises(NotFound):  # a stranger: the same one round trip, then no answer
            await uc.group_balances("z", group, "")
        assert sent == ["MGET"]
    finally:
        await channel.close(None)
        await rosters.close()
        await cache.close()
