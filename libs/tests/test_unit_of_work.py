"""The unit-of-work port's two adapters keep the same promises.

The idempotency and ledger contracts run on both PostgreSQL (``SqlUnitOfWork``) and
memory (``MemoryUnitOfWork``): a use-case test on the memory adapter then says what
the service does on the real database. A random walk of ledger writes checks that the
two agree on every balance after every step.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hisaab.events.v1 import events_pb2 as ev
from hisaab.group.v1 import group_pb2

from libs.auth.caller import Caller, reset_caller, set_caller
from libs.db.database import Database
from libs.db.repositories import MemoryRepositories, SqlRepositories
from libs.db.unit_of_work import MemoryUnitOfWork, SqlUnitOfWork, UnitOfWork
from libs.errors import InvalidArgument, RequestIdReused
from libs.idempotency import Once
from libs.ledger.book import MemoryLedger, SqlLedger
from libs.ledger.postings import Posting

# Each adapter is one parameter; the SQL one needs the stack's database.
ADAPTERS = ["memory", pytest.param("sql", marks=pytest.mark.integration)]


class Boom(Exception):
    pass


class SqlRepos(SqlRepositories):
    def __init__(self, conn: Any):
        super().__init__(conn)
        self.ledger = SqlLedger(conn)


class MemoryRepos(MemoryRepositories):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = MemoryLedger()


@pytest.fixture
def caller() -> Iterator[str]:
    user = f"u-{uuid.uuid4()}"
    token = set_caller(Caller(user, "token"))
    yield user
    reset_caller(token)


@pytest.fixture
async def uow(request: pytest.FixtureRequest) -> AsyncIterator[UnitOfWork[Any]]:
    if request.param == "memory":
        yield MemoryUnitOfWork(MemoryRepos())
        return
    db = Database(request.getfixturevalue("database_url"), pool_size=4)
    yield SqlUnitOfWork(db, SqlRepos)
    await db.close()


def _request(name: str, request_id: str = "") -> group_pb2.CreateGroupRequest:
    return group_pb2.CreateGroupRequest(group=group_pb2.Group(display_name=name), request_id=request_id)


@pytest.mark.parametrize("with_writes", [False, True])
@pytest.mark.parametrize("uow", ADAPTERS, indirect=True)
async def test_once_answers_a_retry_with_the_first_answer(
    uow: UnitOfWork[Any], caller: str, with_writes: bool
) -> None:
    rid, group = str(uuid.uuid4()), str(uuid.uuid4())

    def once(scope: str, name: str, request_id: str) -> Once[Any, group_pb2.Group]:
        return Once(uow, scope, _request(name, request_id), group_pb2.Group, claim_with_writes=with_writes)

    async def work(repos: Any) -> group_pb2.Group:
        entry = await repos.ledger.record(
            group_id=group,
            kind="expense",
            currency="INR",
            total_minor=10,
            postings={"a": Posting(10, 0), "b": Posting(0, 10)},
        )
        return group_pb2.Group(name=f"groups/{entry}")

    async def writes() -> int:
        async with uow.read() as repos:
            return int(await repos.ledger.version(group))

    first = await once("test.Create", "Goa", rid)(work)
    again = await once("test.Create", "Goa", rid)(work)
    assert again.name == first.name and await writes() == 1
    with pytest.raises(RequestIdReused):
        await once("test.Create", "Manali", rid)(work)
    # Another scope, or no request id at all, is a new request.
    assert (await once("test.Other", "Goa", rid)(work)).name != first.name
    await once("test.Create", "Goa", "")(work)
    await once("test.Create", "Goa", "")(work)
    assert await writes() == 4


@pytest.mark.integration
async def test_concurrent_retries_with_the_writes_make_one_write(database_url: str, caller: str) -> None:
    db = Database(database_url, pool_size=8)
    uow = SqlUnitOfWork(db, SqlRepos)
    rid, group = str(uuid.uuid4()), str(uuid.uuid4())

    async def work(repos: Any) -> group_pb2.Group:
        entry = await repos.ledger.record(
            group_id=group,
            kind="expense",
            currency="INR",
            total_minor=10,
            postings={"a": Posting(10, 0), "b": Posting(0, 10)},
        )
        await asyncio.sleep(0.05)  # the others' claims arrive while this one is open
        return group_pb2.Group(name=f"groups/{entry}")

    once = Once(uow, "test.Create", _request("Goa", rid), group_pb2.Group, claim_with_writes=True)
    try:
        answers = await asyncio.gather(*(once(work) for _ in range(6)))
        async with uow.read() as repos:
            assert await repos.ledger.version(group) == 1
            assert await repos.ledger.group_balances(group) == {"INR": {"a": 10, "b": -10}}
    finally:
        await db.close()
    assert len({a.name for a in answers}) == 1


@pytest.mark.parametrize("uow", ADAPTERS, indirect=True)
async def test_a_failed_once_leaves_the_key_free(uow: UnitOfWork[Any], caller: str) -> None:
    rid = str(uuid.uuid4())

    async def fails(repos: Any) -> group_pb2.Group:
        raise InvalidArgument("group.display_name", "too long")

    with pytest.raises(InvalidArgument):
        await Once(uow, "test.Create", _request("Goa", rid), group_pb2.Group)(fails)

    async def works(repos: Any) -> group_pb2.Group:
        return group_pb2.Group(name="groups/ok")

    assert (await Once(uow, "test.Create", _request("Goa", rid), group_pb2.Group)(works)).name == "groups/ok"


@pytest.mark.parametrize("uow", ADAPTERS, indirect=True)
async def test_once_checks_the_request_id(uow: UnitOfWork[Any], caller: str) -> None:
    async def work(repos: Any) -> group_pb2.Group:
        raise AssertionError("not reached")

    with pytest.raises(InvalidArgument) as err:
        await Once(uow, "test.Create", _request("Goa", "not-a-uuid"), group_pb2.Group)(work)
    assert err.value.field == "request_id"


@pytest.mark.parametrize("uow", ADAPTERS, indirect=True)
async def test_a_transaction_that_raises_writes_nothing(uow: UnitOfWork[Any]) -> None:
    group = str(uuid.uuid4())
    async with uow.transaction() as repos:
        await repos.ledger.record(
            group_id=group,
            kind="expense",
            currency="INR",
            total_minor=900,
            postings={"a": Posting(900, 450), "b": Posting(0, 450)},
        )

    async def fails() -> None:
        async with uow.transaction() as repos:
            entry = await repos.ledger.record(
                group_id=group,
                kind="expense",
                currency="INR",
                total_minor=100,
                postings={"a": Posting(0, 100), "b": Posting(100, 0)},
            )
            await repos.outbox.record(ev.GroupChanged(group=group, change=ev.CREATED), f"groups/{group}")
            assert await repos.ledger.get(entry) is not None
            raise Boom

    with pytest.raises(Boom):
        await fails()
    async with uow.read() as repos:
        assert await repos.ledger.group_balances(group) == {"INR": {"a": 450, "b": -450}}
        assert await repos.ledger.version(group) == 1
        if isinstance(repos, MemoryRepos):
            assert repos.outbox.recorded == []


@pytest.mark.parametrize("uow", ADAPTERS, indirect=True)
async def test_ledger_edit_delete_restore(uow: UnitOfWork[Any]) -> None:
    group, user = str(uuid.uuid4()), f"u-{uuid.uuid4()}"
    async with uow.transaction() as repos:
        entry = await repos.ledger.record(
            group_id=group,
            kind="expense",
            currency="INR",
            total_minor=900,
            postings={user: Posting(900, 300), "b": Posting(0, 300), "c": Posting(0, 300)},
        )
        await repos.ledger.replace(
            entry, currency="USD", total_minor=10, postings={user: Posting(0, 5), "b": Posting(10, 5)}
        )
    async with uow.read() as repos:
        assert await repos.ledger.group_balances(group) == {"USD": {user: -5, "b": 5}}
        assert await repos.ledger.user_balances(user) == {group: {"USD": -5}}
        assert await repos.ledger.member_balance(group, "b") == {"USD": 5}
    async with uow.transaction() as repos:
        assert await repos.ledger.set_active(entry, False) is True
        assert await repos.ledger.set_active(entry, False) is False
    async with uow.read() as repos:
        assert await repos.ledger.group_balances(group) == {}
        assert await repos.ledger.user_balances(user) == {}
        found = await repos.ledger.get(entry)
        assert (found.active, found.version, found.currency) == (False, 3, "USD")
        assert await repos.ledger.postings_of([entry, str(uuid.uuid4())]) == {
            entry: {user: Posting(0, 5), "b": Posting(10, 5)}
        }
    async with uow.transaction() as repos:
        assert await repos.ledger.set_active(entry, True) is True
        with pytest.raises(LookupError):
            await repos.ledger.set_active(str(uuid.uuid4()), True)
    async with uow.read() as repos:
        assert await repos.ledger.group_balances(group) == {"USD": {user: -5, "b": 5}}
        assert await repos.ledger.version(group) == 5  # a currency change moves it twice


def _postings(rng: random.Random, people: list[str]) -> tuple[int, dict[str, Posting]]:
    chosen = rng.sample(people, rng.randint(1, len(people)))
    owed = {p: rng.randint(0, 5000) for p in chosen}
    total = sum(owed.values())
    payer = rng.choice(chosen)
    return total, {p: Posting(total if p == payer else 0, owed[p]) for p in chosen}


@pytest.mark.integration
async def test_memory_and_sql_ledgers_agree_on_a_random_walk(database_url: str) -> None:
    db = Database(database_url, pool_size=4)
    sql, memory = SqlUnitOfWork(db, SqlRepos), MemoryUnitOfWork(MemoryRepos())
    rng = random.Random(20261129)
    groups = [str(uuid.uuid4()) for _ in range(2)]
    people = [f"p{i}-{uuid.uuid4()}" for i in range(4)]
    entries: list[str] = []
    try:
        for _ in range(60):
            action = rng.choice(["record", "record", "replace", "toggle"] if entries else ["record"])
            total, postings = _postings(rng, people)
            currency = rng.choice(["INR", "USD"])
            entry = rng.choice(entries) if entries else ""
            new_id, group = str(uuid.uuid4()), rng.choice(groups)
            active = rng.random() < 0.5
            answers: list[Any] = []
            for uow in (sql, memory):
                async with uow.transaction() as repos:
                    if action == "record":
                        await repos.ledger.record(
                            group_id=group,
                            kind="expense",
                            currency=currency,
                            total_minor=total,
                            postings=postings,
                            entry_id=new_id,
                        )
                    elif action == "replace":
                        await repos.ledger.replace(
                            entry, currency=currency, total_minor=total, postings=postings
                        )
                    else:
                        answers.append(await repos.ledger.set_active(entry, active))
                async with uow.read() as repos:
                    answers.append(
                        (
                            [await repos.ledger.group_balances(g) for g in groups],
                            [await repos.ledger.version(g) for g in groups],
                            [await repos.ledger.user_balances(p) for p in people],
                        )
                    )
            if action == "record":
                entries.append(new_id)
            half = len(answers) // 2
            assert answers[:half] == answers[half:], action
    finally:
        await db.close()


def test_memory_unit_of_work_restores_nested_state() -> None:
    repos = SimpleNamespace(rows={"a": [1]})
    uow = MemoryUnitOfWork(repos)

    async def fails() -> None:
        async with uow.transaction() as r:
            r.rows["a"].append(2)
            r.rows["b"] = [3]
            raise Boom

    async def run() -> None:
        with pytest.raises(Boom):
            await fails()
        async with uow.transaction() as r:
            r.rows["c"] = [4]

    asyncio.run(run())
    assert uow.repositories.rows == {"a": [1], "c": [4]} and uow.commits == 1
