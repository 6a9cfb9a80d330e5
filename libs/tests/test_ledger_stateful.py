"""The ledger store against a pure-Python model, one random history at a time (real PostgreSQL).

Hypothesis drives create / edit / delete / restore / settle over two groups, four
users and two currencies (one with no minor unit), with amounts up to 10^12 minor
units. After every step: per group and currency the nets sum to zero, every
balance equals the sum of its active postings, and the database's balances, the
entries it stores and each user's balances all equal the model's.

The store is async and hypothesis' state machines are not, so every call runs to
completion on one event loop owned by the test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from libs.db.database import Database
from libs.ledger import store
from libs.ledger.postings import Posting

pytestmark = pytest.mark.integration

T = TypeVar("T")
USERS = ("u1", "u2", "u3", "u4")
CURRENCIES = ("INR", "JPY")
MAX_TOTAL = 10**12


@dataclass
class ModelEntry:
    group: int  # index into the machine's groups
    kind: str
    currency: str
    total: int
    postings: dict[str, Posting]
    active: bool = True


@st.composite
def entries(draw: st.DrawFn) -> tuple[int, dict[str, Posting]]:
    """A balanced entry: paid and owed are two independent splits of one total."""
    users = draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=len(USERS), unique=True))
    total = draw(st.one_of(st.integers(1, 1000), st.integers(1, MAX_TOTAL)))

    def split() -> list[int]:
        cuts = sorted(draw(st.lists(st.integers(0, total), min_size=len(users) - 1, max_size=len(users) - 1)))
        bounds = [0, *cuts, total]
        return [b - a for a, b in pairwise(bounds)]

    paid, owed = split(), split()
    return total, {u: Posting(p, o) for u, p, o in zip(users, paid, owed, strict=True)}


class LedgerMachine(RuleBasedStateMachine):
    # set by the test: the loop every coroutine runs on, and the database
    loop: ClassVar[asyncio.AbstractEventLoop]
    db: ClassVar[Database]

    expenses = Bundle("expenses")
    settlements = Bundle("settlements")

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[str] = []
        self.model: dict[str, ModelEntry] = {}

    def run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        async def in_transaction() -> T:
            async with self.db.transaction() as conn:
                return await work(conn)

        return self.loop.run_until_complete(in_transaction())

    @initialize()
    def fresh_groups(self) -> None:
        # new ids per history: earlier histories' rows never mix in
        self.groups = [str(uuid.uuid4()), str(uuid.uuid4())]

    def _record(self, group: int, kind: str, currency: str, total: int, postings: dict[str, Posting]) -> str:
        entry_id = self.run(
            lambda conn: store.record(
                conn,
                group_id=self.groups[group],
                kind=kind,
                currency=currency,
                total_minor=total,
                postings=postings,
            )
        )
        self.model[entry_id] = ModelEntry(group, kind, currency, total, dict(postings))
        return entry_id

    @rule(target=expenses, group=st.integers(0, 1), currency=st.sampled_from(CURRENCIES), entry=entries())
    def create(self, group: int, currency: str, entry: tuple[int, dict[str, Posting]]) -> str:
        return self._record(group, "expense", currency, *entry)

    @rule(
        target=settlements,
        group=st.integers(0, 1),
        currency=st.sampled_from(CURRENCIES),
        pair=st.lists(st.sampled_from(USERS), min_size=2, max_size=2, unique=True),
        amount=st.integers(1, MAX_TOTAL),
    )
    def settle(self, group: int, currency: str, pair: list[str], amount: int) -> str:
        payer, payee = pair
        postings = {payer: Posting(amount, 0), payee: Posting(0, amount)}
        return self._record(group, "settlement", currency, amount, postings)

    @rule(entry_id=expenses, currency=st.sampled_from(CURRENCIES), entry=entries())
    def edit(self, entry_id: str, currency: str, entry: tuple[int, dict[str, Posting]]) -> None:
        total, postings = entry
        self.run(
            lambda conn: store.replace(
                conn, entry_id, currency=currency, total_minor=total, postings=postings
            )
        )
        m = self.model[entry_id]
        m.currency, m.total, m.postings = currency, total, dict(postings)

    def _set_active(self, entry_id: str, active: bool) -> None:
        changed = self.run(lambda conn: store.set_active(conn, entry_id, active))
        m = self.model[entry_id]
        assert changed == (m.active != active)  # a repeat is a no-op, and says so
        m.active = active

    @rule(entry_id=st.one_of(expenses, settlements))
    def delete(self, entry_id: str) -> None:
        self._set_active(entry_id, False)

    @rule(entry_id=st.one_of(expenses, settlements))
    def restore(self, entry_id: str) -> None:
        self._set_active(entry_id, True)

    def expected(self, group: int) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for m in self.model.values():
            if m.active and m.group == group:
                nets = out.setdefault(m.currency, {})
                for user, p in m.postings.items():
                    nets[user] = nets.get(user, 0) + p.net_minor
        return {
            c: {u: v for u, v in sorted(n.items()) if v} for c, n in sorted(out.items()) if any(n.values())
        }

    @invariant()
    def balances_agree(self) -> None:
        if not self.groups:
            return

        async def read(conn: Any) -> list[tuple[Any, Any]]:
            return [
                (await store.group_balances(conn, g), await store.balances_from_postings(conn, g))
                for g in self.groups
            ]

        for i, (balances, from_postings) in enumerate(self.run(read)):
            assert balances == from_postings  # every balance is the sum of its active postings
            assert balances == self.expected(i)  # and what the model says
            for nets in balances.values():
                assert sum(nets.values()) == 0

    @invariant()
    def users_and_entries_agree(self) -> None:
        if not self.groups:
            return
        expected = [self.expected(i) for i in range(len(self.groups))]

        async def read(conn: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            users = {u: await store.user_balances(conn, u) for u in USERS}
            stored = {e: await store.get(conn, e) for e in self.model}
            return users, stored

        users, stored = self.run(read)
        for user, by_group in users.items():
            mine = {g: nets for g, nets in by_group.items() if g in self.groups}
            want = {
                self.groups[i]: {c: n[user] for c, n in exp.items() if user in n}
                for i, exp in enumerate(expected)
            }
            assert mine == {g: nets for g, nets in want.items() if nets}
        for entry_id, m in self.model.items():
            got = stored[entry_id]
            assert got is not None
            assert (got.group_id, got.kind, got.currency, got.total_minor, got.active) == (
                self.groups[m.group],
                m.kind,
                m.currency,
                m.total,
                m.active,
            )
            assert got.postings == m.postings


def test_ledger_store_matches_a_pure_model(database_url: str) -> None:
    loop = asyncio.new_event_loop()
    db = Database(database_url, pool_size=2)
    LedgerMachine.loop, LedgerMachine.db = loop, db
    try:
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=25,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            ),
        )
    finally:
        loop.run_until_complete(db.close())
        loop.close()
