"""The shared change-feed logic: cursors, page sizes, revocation and catching up joined groups.

The feed is driven against an in-memory table that behaves like the repositories: one row
per entity, keyed by (writing transaction, id), a write moving the row to the end.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from libs import change_feed, clock, pagination
from libs.auth.caller import Caller, reset_caller, reset_method, set_caller, set_method
from libs.change_feed import Key, State
from libs.errors import InvalidArgument

FEED = {"feed": "-", "caller": "u1"}
METHOD = "/hisaab.settlement.v1.SettlementService/ListSettlementChanges"


@pytest.fixture(autouse=True)
def serving() -> Iterator[None]:
    caller, method = set_caller(Caller("u1", "token")), set_method(METHOD)
    yield
    reset_method(method)
    reset_caller(caller)


@dataclass(frozen=True)
class Row:
    group: str
    entity: str
    value: int
    key: Key


class Table:
    """Rows by entity; every write takes the next transaction id."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.xid = 100

    def write(self, group: str, entity: str, value: int) -> None:
        self.xid += 1
        self.rows[entity] = Row(group, entity, value, (self.xid, entity))

    async def fetch(self, groups: list[str], after: Key | None, upto: Key | None, limit: int) -> list[Row]:
        found = sorted(
            (
                r
                for r in self.rows.values()
                if r.group in groups and (after is None or r.key > after) and (upto is None or r.key <= upto)
            ),
            key=lambda r: r.key,
        )
        return found[:limit]

    def state_of(self, groups: set[str]) -> dict[str, int]:
        return {r.entity: r.value for r in self.rows.values() if r.group in groups}


class Client:
    """A phone: applies pages in order and keeps only its cursor between syncs."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.cursor = ""
        self.data: dict[str, tuple[str, int]] = {}
        self.revoked: list[str] = []
        self.received: list[str] = []

    def sync(self, member_of: set[str], size: int) -> None:
        while True:
            state = change_feed.decode(self.cursor, FEED)
            page = asyncio.run(change_feed.read(state, member_of, size, self.table.fetch, lambda r: r.key))
            assert len(page.rows) <= size
            for group in page.revoked:
                self.revoked.append(group)
                self.data = {e: v for e, v in self.data.items() if v[0] != group}
            for row in page.rows:
                self.received.append(row.entity)
                self.data[row.entity] = (row.group, row.value)
            self.cursor = change_feed.encode(page.state, FEED)
            assert self.cursor
            if not page.has_more:
                return

    def values(self) -> dict[str, int]:
        return {e: v for e, (_, v) in self.data.items()}


def group_ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


def test_page_size_is_1_to_500_and_defaults_to_200() -> None:
    assert change_feed.page_size(0) == 200
    assert change_feed.page_size(1) == 1
    assert change_feed.page_size(500) == 500
    for bad in (-1, 501):
        with pytest.raises(InvalidArgument) as err:
            change_feed.page_size(bad)
        assert err.value.field == "page_size"


def test_a_cursor_reads_back_and_never_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = group_ids(2)
    state = State(position=(7, "x"), groups=frozenset({a, b}), joining=frozenset(), joining_position=None)
    token = change_feed.encode(state, FEED)
    later = datetime.now(UTC) + timedelta(days=3650)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert change_feed.decode(token, FEED) == state
    assert change_feed.decode("", FEED) is None


@pytest.mark.parametrize("token", ["abc", "abc.def", "."])
def test_a_foreign_or_edited_cursor_is_refused_naming_cursor(token: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        change_feed.decode(token, FEED)
    assert err.value.field == "cursor"


def test_a_cursor_belongs_to_its_feed_and_caller() -> None:
    token = change_feed.encode(State(position=(1, "x")), FEED)
    with pytest.raises(InvalidArgument) as err:
        change_feed.decode(token, {"feed": str(uuid.UUID(int=9)), "caller": "u1"})
    assert err.value.field == "cursor"
    other = set_caller(Caller("u2", "token"))
    try:
        with pytest.raises(InvalidArgument) as err:
            change_feed.decode(token, FEED)
        assert err.value.field == "cursor"
    finally:
        reset_caller(other)


def test_a_signed_key_of_the_wrong_shape_is_refused() -> None:
    token = pagination.encode([2, 1, "x", "not-a-group", "", None, None], FEED, ttl=None)
    with pytest.raises(InvalidArgument) as err:
        change_feed.decode(token, FEED)
    assert err.value.field == "cursor"


def test_a_first_format_cursor_resumes_at_its_position() -> None:
    (a,) = group_ids(1)
    table = Table()
    table.write(a, "e1", 1)
    table.write(a, "e2", 1)
    old = pagination.encode([101, "e1"], FEED, ttl=timedelta(days=90))
    state = change_feed.decode(old, FEED)
    assert state == State(position=(101, "e1"), groups=None)
    page = asyncio.run(change_feed.read(state, [a], 10, table.fetch, lambda r: r.key))
    assert [r.entity for r in page.rows] == ["e2"] and page.revoked == []
    assert page.state.groups == frozenset({a})


def test_paging_hands_out_every_row_once_in_write_order() -> None:
    a, b = group_ids(2)
    table = Table()
    for i in range(7):
        table.write(a if i % 2 else b, f"e{i}", i)
    client = Client(table)
    client.sync({a, b}, size=2)
    assert client.received == [f"e{i}" for i in range(7)]
    table.write(a, "e3", 30)
    table.write(b, "e0", 0)
    client.sync({a, b}, size=2)
    assert client.received[7:] == ["e3", "e0"]
    assert client.values() == table.state_of({a, b})


def test_losing_a_group_is_reported_once_and_then_forgotten() -> None:
    a, b = group_ids(2)
    table = Table()
    table.write(a, "ea", 1)
    table.write(b, "eb", 1)
    client = Client(table)
    client.sync({a, b}, size=10)
    client.sync({a}, size=10)
    assert client.revoked == [b] and client.values() == {"ea": 1}
    client.sync({a}, size=10)
    assert client.revoked == [b]


def test_a_group_joined_later_is_caught_up_from_its_beginning() -> None:
    a, b = group_ids(2)
    table = Table()
    table.write(b, "old-b1", 1)
    table.write(a, "ea", 1)
    table.write(b, "old-b2", 2)
    client = Client(table)
    client.sync({a}, size=10)
    assert client.values() == {"ea": 1}
    table.write(b, "new-b", 3)
    client.sync({a, b}, size=1)
    # The rows written before the caller joined come too, each once.
    assert sorted(client.received) == sorted(["ea", "old-b1", "old-b2", "new-b"])
    assert client.values() == table.state_of({a, b})


@pytest.mark.parametrize("seed", range(40))
def test_a_client_ends_up_with_the_servers_state(seed: int) -> None:
    rnd = random.Random(seed)
    groups = group_ids(4)
    table = Table()
    member_of = set(rnd.sample(groups, 2))
    client = Client(table)
    for _ in range(60):
        step = rnd.random()
        if step < 0.6:
            # an entity belongs to one group for ever, as expenses and settlements do
            group = rnd.choice(groups)
            table.write(group, f"{group}/e{rnd.randrange(8)}", rnd.randrange(1000))
        elif step < 0.75:
            member_of ^= {rnd.choice(groups)}
        else:
            client.sync(member_of, size=rnd.choice([1, 2, 3, 50]))
            assert client.values() == table.state_of(member_of)
    client.sync(member_of, size=rnd.choice([1, 2, 3, 50]))
    assert client.values() == table.state_of(member_of)


def test_fetch_sees_only_the_groups_it_covers() -> None:
    a, b = group_ids(2)
    seen: list[Sequence[str]] = []

    async def fetch(groups: list[str], after: Key | None, upto: Key | None, limit: int) -> list[Row]:
        seen.append(list(groups))
        return []

    page = asyncio.run(change_feed.read(None, [a], 5, fetch, lambda r: r.key))
    assert seen == [[a]] and page.state.groups == frozenset({a}) and not page.has_more
    assert page.state.groups is not None and b not in page.state.groups
