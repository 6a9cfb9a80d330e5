"""Settlement use cases on in-memory repositories: the rules without a database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from hisaab.common.v1 import money_pb2
from hisaab.events.v1 import events_pb2 as ev
from hisaab.settlement.v1 import settlement_pb2

from libs import etag
from libs.auth.caller import Caller, reset_caller, set_caller
from libs.cache import Cache
from libs.db.unit_of_work import MemoryUnitOfWork
from libs.errors import EtagMismatch, FailedPrecondition, InvalidArgument, NotFound, RequestIdReused
from libs.ledger.postings import Posting
from services.settlement.balance_cache import BalanceCache
from services.settlement.domain import Method, Settlement
from services.settlement.rates.reference import ReferenceRates
from services.settlement.servicer import settlement_proto
from services.settlement.tests.fakes import FakeGroups, FakeUsers, FixedSource, MemorySettlementRepositories
from services.settlement.usecases import ListQuery, NewSettlement, SettlementUseCases

GROUP = str(uuid.uuid4())
Uow = MemoryUnitOfWork[MemorySettlementRepositories]


@pytest.fixture
def uow() -> Uow:
    return MemoryUnitOfWork(MemorySettlementRepositories())


@pytest.fixture
def groups() -> FakeGroups:
    return FakeGroups({GROUP: ["a", "b", "c"]})


@pytest.fixture
def uc(uow: Uow, groups: FakeGroups) -> SettlementUseCases:
    published = ReferenceRates(date(2026, 1, 2), "ecb", "EUR", {"INR": Decimal("90")})
    return SettlementUseCases(
        uow, groups, FakeUsers({"b": "b@upi"}), BalanceCache(Cache("", prefix="t")), FixedSource(published)
    )


@pytest.fixture(autouse=True)
def caller() -> Iterator[None]:
    token = set_caller(Caller("a", "token"))
    yield
    reset_caller(token)


def _new(amount: int = 500, payer: str = "a", payee: str = "b") -> NewSettlement:
    return NewSettlement(payer, payee, "INR", amount, date(2026, 1, 5), "dinner", Method.CASH, "")


def _request(request_id: str = "", amount: int = 500) -> settlement_pb2.CreateSettlementRequest:
    return settlement_pb2.CreateSettlementRequest(
        parent=f"groups/{GROUP}",
        request_id=request_id,
        settlement=settlement_pb2.Settlement(
            amount=money_pb2.Money(currency_code="INR", amount_minor=amount)
        ),
    )


async def _create(
    uc: SettlementUseCases, new: NewSettlement | None = None, request_id: str = ""
) -> settlement_pb2.Settlement:
    new = new or _new()
    return await uc.create(
        "a", GROUP, new, _request(request_id, new.amount_minor), settlement_pb2.Settlement, settlement_proto
    )


async def test_create_posts_the_payment_and_records_the_event(uc: SettlementUseCases, uow: Uow) -> None:
    created = await _create(uc)
    repos = uow.repositories
    assert created.payer == "users/a" and created.payee == "users/b" and created.amount.amount_minor == 500
    assert await repos.ledger.group_balances(GROUP) == {"INR": {"a": 500, "b": -500}}
    [event] = repos.outbox.events()
    assert isinstance(event, ev.SettlementChanged)
    assert (event.change, event.settlement, event.payer, event.amount_minor) == (
        ev.CREATED,
        created.settlement_id,
        "a",
        500,
    )
    assert repos.outbox.recorded[0].actor == "a"
    assert repos.outbox.recorded[0].aggregate == created.name


async def test_a_retried_create_answers_the_first_and_writes_once(uc: SettlementUseCases, uow: Uow) -> None:
    request_id = str(uuid.uuid4())
    first = await _create(uc, request_id=request_id)
    again = await _create(uc, request_id=request_id)
    assert again == first
    assert len(uow.repositories.settlements) == 1
    assert len(uow.repositories.outbox.recorded) == 1
    assert await uow.repositories.ledger.group_balances(GROUP) == {"INR": {"a": 500, "b": -500}}
    with pytest.raises(RequestIdReused):
        await _create(uc, _new(amount=600), request_id=request_id)


async def test_create_refuses_strangers_and_non_members(uc: SettlementUseCases, uow: Uow) -> None:
    with pytest.raises(NotFound):
        await uc.create("stranger", GROUP, _new(), _request(), settlement_pb2.Settlement, settlement_proto)
    with pytest.raises(InvalidArgument) as outsider:
        await _create(uc, _new(payee="zed"))
    assert outsider.value.field == "settlement.payee"
    assert uow.repositories.settlements == {} and uow.commits == 0


async def test_a_failing_write_leaves_nothing_behind(uc: SettlementUseCases, uow: Uow) -> None:
    def broken(s: Settlement) -> settlement_pb2.Settlement:
        raise RuntimeError("presenting failed")

    with pytest.raises(RuntimeError):
        await uc.create("a", GROUP, _new(), _request(str(uuid.uuid4())), settlement_pb2.Settlement, broken)
    repos = uow.repositories
    assert repos.settlements == {} and repos.outbox.recorded == [] and repos.keys.kept == {}
    assert await repos.ledger.group_balances(GROUP) == {}


async def test_delete_and_restore_move_the_money_and_the_feed(uc: SettlementUseCases, uow: Uow) -> None:
    created = await _create(uc)
    deleted = await uc.set_deleted("a", GROUP, created.settlement_id, True, created.etag)
    assert deleted.deleted and deleted.version == 2 and deleted.last_change == "deleted"
    assert await uow.repositories.ledger.group_balances(GROUP) == {}
    # a repeat changes nothing
    assert await uc.set_deleted("a", GROUP, created.settlement_id, True, "") == deleted
    with pytest.raises(EtagMismatch):
        await uc.set_deleted("a", GROUP, created.settlement_id, False, created.etag)

    restored = await uc.set_deleted("a", GROUP, created.settlement_id, False, etag.make(deleted.name, 2))
    assert not restored.deleted and restored.last_change == "restored"
    assert await uow.repositories.ledger.group_balances(GROUP) == {"INR": {"a": 500, "b": -500}}
    changes = [e.change for e in uow.repositories.outbox.events() if isinstance(e, ev.SettlementChanged)]
    assert changes == [ev.CREATED, ev.DELETED, ev.RESTORED]

    # the feed has the settlement once, at its latest write
    [row] = await uc.changes([GROUP], None, None, 10)
    assert row.last_change == "restored" and row.version == 3
    assert await uc.changes([GROUP], row.change_key, None, 10) == []


async def test_a_settlement_is_not_restored_once_the_payee_left(
    uc: SettlementUseCases, uow: Uow, groups: FakeGroups
) -> None:
    created = await _create(uc)
    await uc.set_deleted("a", GROUP, created.settlement_id, True, "")
    groups.rosters[GROUP].remove("b")
    with pytest.raises(FailedPrecondition):
        await uc.set_deleted("a", GROUP, created.settlement_id, False, "")
    assert uow.repositories.settlements[created.settlement_id].deleted
    assert await uow.repositories.ledger.group_balances(GROUP) == {}


async def test_get_and_list_see_only_the_group_s_settlements(uc: SettlementUseCases) -> None:
    first = await _create(uc)
    second = await _create(uc, _new(amount=300, payer="c", payee="a"))
    with pytest.raises(NotFound):
        await uc.get("a", GROUP, str(uuid.uuid4()))
    with pytest.raises(NotFound):
        await uc.get("stranger", GROUP, first.settlement_id)
    assert (await uc.get("b", GROUP, first.settlement_id)).amount_minor == 500

    listed = await uc.list("a", GROUP, ListQuery(), after=None, limit=10)
    assert {s.id for s in listed} == {first.settlement_id, second.settlement_id}
    only_b = await uc.list("a", GROUP, ListQuery(user="b"), after=None, limit=10)
    assert [s.id for s in only_b] == [first.settlement_id]
    await uc.set_deleted("a", GROUP, second.settlement_id, True, "")
    assert [s.id for s in await uc.list("a", GROUP, ListQuery(), after=None, limit=10)] == [
        first.settlement_id
    ]
    shown = await uc.list("a", GROUP, ListQuery(show_deleted=True), after=None, limit=10)
    assert len(shown) == 2


async def test_balances_and_debts_come_from_the_ledger(uc: SettlementUseCases, uow: Uow) -> None:
    async with uow.transaction() as repos:
        await repos.ledger.record(
            group_id=GROUP,
            kind="expense",
            currency="INR",
            total_minor=900,
            postings={"a": Posting(900, 300), "b": Posting(0, 300), "c": Posting(0, 300)},
        )
    members = await uc.group_balances("a", GROUP, "")
    assert [(m.user_id, m.nets) for m in members] == [
        ("a", {"INR": 600}),
        ("b", {"INR": -300}),
        ("c", {"INR": -300}),
    ]
    transfers, optimal = await uc.debts("a", GROUP, "")
    assert optimal and sorted((t.payer, t.payee, t.amount_minor) for t in transfers) == [
        ("b", "a", 300),
        ("c", "a", 300),
    ]
    assert await uc.member_balance("stranger", GROUP, "b", internal=True) == {"INR": -300}
    with pytest.raises(NotFound):
        await uc.member_balance("stranger", GROUP, "b")
    mine = await uc.my_balances("a", show_settled=False)
    assert mine.owed_to_caller == {"INR": 600} and mine.caller_owes == {}


async def test_rates_are_stored_once_and_read_by_day(uc: SettlementUseCases) -> None:
    with pytest.raises(NotFound):
        await uc.exchange_rates("INR", None)
    fetched, stored = await uc.refresh_rates()
    assert stored and fetched.day == date(2026, 1, 2)
    assert (await uc.refresh_rates())[1] is False
    reference, rates = await uc.exchange_rates("INR", date(2026, 1, 3))
    assert reference.day == date(2026, 1, 2) and rates == {"EUR": "90"}
    with pytest.raises(NotFound):
        await uc.exchange_rates("INR", date(2026, 1, 1))
