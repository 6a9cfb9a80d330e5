"""expense-service's use cases on the in-memory repositories (tests/fakes.py): no database.

The rules: who may write, what a write stores (row, ledger entry, outbox event, feed
entry), that a create runs once per request_id, and that a failed write leaves nothing.
The SQL repositories keep their own tests against PostgreSQL (the e2e suites).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hisaab.events.v1 import events_pb2 as ev
from hisaab.expense.v1 import expense_pb2

from libs import clock, etag
from libs.auth.caller import Caller, reset_caller, set_caller
from libs.db.unit_of_work import MemoryUnitOfWork
from libs.errors import (
    EtagMismatch,
    FailedPrecondition,
    InvalidArgument,
    NotAllowed,
    NotFound,
    RequestIdReused,
)
from libs.idempotency import Once
from libs.ledger.splits import SplitMode
from services.expense import codec
from services.expense.activity.entries import Entry
from services.expense.activity.usecases import FeedWriter
from services.expense.domain import Category, Draft, Expense, ExpenseFilter, SplitSpec, Updates
from services.expense.files.usecases import FileUseCases
from services.expense.recurrence import Frequency, Rule, Schedule
from services.expense.recurring_job import RecurringJob, occurrence_id
from services.expense.tests.fakes import (
    FakeDirectory,
    FakeGroupInfo,
    FakeGroups,
    FakeSettlements,
    MemoryExpenseRepositories,
    events_of,
)
from services.expense.usecases import ExpenseUseCases, RuleChanges

GROUP = str(uuid.uuid4())
OTHER_GROUP = str(uuid.uuid4())
A, B, C, OUTSIDER = "user-a", "user-b", "user-c", "user-z"
TODAY = date(2026, 3, 14)


class World:
    def __init__(self) -> None:
        self.uow = MemoryUnitOfWork(MemoryExpenseRepositories())
        self.groups = FakeGroups({GROUP: {A, B, C}, OTHER_GROUP: {A}})
        self.users = FakeDirectory({A: "Asha", B: "Bilal", C: "Chen"})
        self.uc = ExpenseUseCases(self.uow, self.groups, self.users, today=lambda: TODAY)

    @property
    def repos(self) -> MemoryExpenseRepositories:
        return self.uow.repositories

    def once(self, request: Any, response_type: type[Any], scope: str = "CreateExpense") -> Once[Any, Any]:
        return Once(self.uow, f"expense.{scope}", request, response_type)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture(autouse=True)
def caller_a() -> Iterator[None]:
    token = set_caller(Caller(A, "token"))
    yield
    reset_caller(token)


def draft(total: int = 900, *, payer: str = A, people: tuple[str, ...] = (A, B, C), **changes: Any) -> Draft:
    made = Draft(
        description="Dinner",
        category=Category.FOOD,
        transaction_date=TODAY,
        note="",
        currency="INR",
        total_minor=total,
        payers=((payer, total),),
        split=SplitSpec(SplitMode.EQUAL, participants=people),
    )
    return replace(made, **changes)


def create_request(request_id: str = "", made: Draft | None = None) -> expense_pb2.CreateExpenseRequest:
    """What Once fingerprints: the use case gets the draft already decoded, so the request
    carries just enough of it to tell two different creates apart."""
    request = expense_pb2.CreateExpenseRequest(parent=f"groups/{GROUP}", request_id=request_id)
    if made is not None:
        request.expense.description = made.description
        request.expense.total.amount_minor = made.total_minor
    return request


async def add(world: World, made: Draft | None = None, request_id: str = "") -> expense_pb2.Expense:
    made = made or draft()
    once = world.once(create_request(request_id, made), expense_pb2.Expense)
    return await world.uc.add(A, GROUP, made, once, codec.expense_pb)


async def add_rule(world: World, schedule: Schedule, template: Draft | None = None) -> Rule:
    request = expense_pb2.CreateRecurringExpenseRequest(parent=f"groups/{GROUP}")
    once = world.once(request, expense_pb2.RecurringExpense, "CreateRecurringExpense")
    created = await world.uc.add_rule(A, GROUP, schedule, template or draft(), False, once, codec.rule_pb)
    return await world.uc.get_rule(A, GROUP, created.name.rsplit("/", 1)[1])


def expense_id(proto: expense_pb2.Expense) -> str:
    return proto.name.rsplit("/", 1)[1]


# --- creates ------------------------------------------------------------------------------


async def test_a_create_writes_the_row_the_ledger_entry_the_event_and_the_feed_entry(world: World) -> None:
    created = await add(world)
    new_id = expense_id(created)

    stored = await world.uc.get(A, GROUP, new_id)
    assert stored.draft == draft()
    assert {u: (p.paid_minor, p.owed_minor) for u, p in stored.postings.items()} == {
        A: (900, 300),
        B: (0, 300),
        C: (0, 300),
    }
    assert await world.repos.ledger.group_balances(GROUP) == {"INR": {A: 600, B: -300, C: -300}}
    [event] = world.repos.outbox.events()
    assert isinstance(event, ev.ExpenseChanged)
    assert (event.change, event.expense, event.total_minor) == (ev.CREATED, new_id, 900)
    assert dict(event.deltas) == {A: 600, B: -300, C: -300}
    assert world.repos.outbox.recorded[0].actor == A
    [(_, activity)] = await world.repos.activities([GROUP], before=None, limit=10)
    assert (activity.verb, activity.subject, activity.amount_minor) == ("created", stored.name, 900)


async def test_a_retried_create_gets_the_first_answer_and_writes_nothing_more(world: World) -> None:
    request_id = str(uuid.uuid4())
    first = await add(world, request_id=request_id)
    again = await add(world, request_id=request_id)
    assert again == first
    assert len(world.repos.expenses) == 1
    assert len(world.repos.outbox.recorded) == 1
    assert len(world.repos.feed) == 1

    # The same id with another request is refused.
    with pytest.raises(RequestIdReused):
        await add(world, draft(1200), request_id=request_id)


async def test_a_caller_outside_the_group_is_told_it_does_not_exist(world: World) -> None:
    with pytest.raises(NotFound):
        await world.uc.add(
            OUTSIDER, GROUP, draft(), world.once(create_request(), expense_pb2.Expense), codec.expense_pb
        )
    with pytest.raises(NotFound):
        await world.uc.get(A, str(uuid.uuid4()), str(uuid.uuid4()))  # a group that does not exist
    assert world.repos.expenses == {}


async def test_a_participant_outside_the_group_is_named_by_field(world: World) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await add(world, draft(people=(A, OUTSIDER)))
    assert raised.value.field == "expense.split.equal.participants[1]"
    with pytest.raises(InvalidArgument) as raised:
        await add(world, draft(payer=OUTSIDER))
    assert raised.value.field == "expense.payers[0].user"
    assert world.repos.outbox.recorded == []


async def test_a_write_that_fails_leaves_nothing_behind(world: World) -> None:
    def broken(_: Any) -> expense_pb2.Expense:
        raise RuntimeError("the response could not be built")

    request = create_request(str(uuid.uuid4()))
    with pytest.raises(RuntimeError):
        await world.uc.add(A, GROUP, draft(), world.once(request, expense_pb2.Expense), broken)
    repos = world.repos
    assert (repos.expenses, repos.ledger.entries, repos.feed, repos.outbox.recorded) == ({}, {}, [], [])
    assert repos.keys.kept == {}  # the request id was not used up: a retry may run
    assert world.uow.commits == 0
    assert await add(world, request_id=request.request_id)


# --- reads ----------------------------------------------------------------------------------


async def test_listing_filters_and_orders_like_the_database(world: World) -> None:
    early = expense_id(await add(world, draft(300, transaction_date=date(2026, 1, 5), description="Taxi")))
    late = expense_id(await add(world, draft(600, payer=B, description="Groceries")))
    newest_first = await world.uc.list_expenses(A, GROUP, ExpenseFilter(), after=None, limit=10)
    assert [e.id for e in newest_first] == [late, early]
    oldest_first = ExpenseFilter(order_by="transaction_date")
    assert [e.id for e in await world.uc.list_expenses(A, GROUP, oldest_first, after=None, limit=10)] == [
        early,
        late,
    ]
    by_payer = await world.uc.list_expenses(A, GROUP, ExpenseFilter(payer=B), after=None, limit=10)
    assert [e.id for e in by_payer] == [late]
    by_text = await world.uc.list_expenses(A, GROUP, ExpenseFilter(query="taxi"), after=None, limit=10)
    assert [e.id for e in by_text] == [early]
    after_first = await world.uc.list_expenses(
        A, GROUP, ExpenseFilter(), after=[TODAY.isoformat(), late], limit=10
    )
    assert [e.id for e in after_first] == [early]
    with pytest.raises(NotFound):
        await world.uc.list_expenses(OUTSIDER, GROUP, ExpenseFilter(), after=None, limit=10)


# --- updates, deletes and restores ---------------------------------------------------------


async def test_an_update_moves_the_balances_by_the_difference_and_says_what_changed(world: World) -> None:
    created = await add(world)
    new_id = expense_id(created)
    updated = await world.uc.update(A, GROUP, new_id, Updates(total=("INR", 1200)), created.etag)
    assert updated.version == 2
    assert updated.draft.total_minor == 1200
    assert await world.repos.ledger.group_balances(GROUP) == {"INR": {A: 800, B: -400, C: -400}}
    change = events_of(world.repos, ev.ExpenseChanged)[-1]
    assert change.change == ev.UPDATED
    assert dict(change.deltas) == {A: 200, B: -100, C: -100}
    assert list(change.changes) == ["amount", "payers"]  # a lone payer follows the total

    # The first etag is stale now.
    with pytest.raises(EtagMismatch):
        await world.uc.update(A, GROUP, new_id, Updates(description="Lunch"), created.etag)
    # An update that changes nothing writes nothing.
    same = await world.uc.update(A, GROUP, new_id, Updates(description="Dinner"), "")
    assert same.version == 2
    assert len(world.repos.outbox.recorded) == 2


async def test_delete_and_restore_reverse_and_repost_the_entry(world: World) -> None:
    new_id = expense_id(await add(world))
    deleted = await world.uc.set_deleted(A, GROUP, new_id, True, "")
    assert deleted.deleted
    assert await world.repos.ledger.group_balances(GROUP) == {}
    assert await world.uc.list_expenses(A, GROUP, ExpenseFilter(), after=None, limit=10) == []

    again = await world.uc.set_deleted(A, GROUP, new_id, True, "")  # deleting twice changes nothing
    assert again.version == deleted.version
    with pytest.raises(FailedPrecondition):
        await world.uc.update(A, GROUP, new_id, Updates(description="Lunch"), "")

    restored = await world.uc.set_deleted(A, GROUP, new_id, False, etag.make(deleted.name, deleted.version))
    assert not restored.deleted
    assert await world.repos.ledger.group_balances(GROUP) == {"INR": {A: 600, B: -300, C: -300}}
    kinds = [e.change for e in events_of(world.repos, ev.ExpenseChanged)]
    assert kinds == [ev.CREATED, ev.DELETED, ev.RESTORED]
    verbs = [a.verb for _, a in await world.repos.activities([GROUP], before=None, limit=10)]
    assert verbs == ["restored", "deleted", "created"]


async def test_the_change_feed_hands_out_writes_in_order_with_tombstones(world: World) -> None:
    first = expense_id(await add(world))
    second = expense_id(await add(world, draft(300)))
    await world.uc.set_deleted(A, GROUP, first, True, "")
    rows = await world.uc.changes([GROUP], None, None, 10)
    assert [r.id for r in rows] == [second, first]  # the deletion is the newest write
    tombstone = rows[-1]
    assert isinstance(tombstone, Expense) and tombstone.deleted
    assert await world.uc.changes([OTHER_GROUP], None, None, 10) == []
    after_second = rows[0].change_key
    assert [r.id for r in await world.uc.changes([GROUP], after_second, None, 10)] == [first]
    # A client that lost access while resuming gets an empty set, not NOT_FOUND.
    world.groups.rosters[GROUP].discard(A)
    assert await world.uc.feed_groups(A, GROUP, resuming=True) == []


# --- comments -----------------------------------------------------------------------------


async def test_comments_count_on_the_expense_and_only_their_author_deletes_them(world: World) -> None:
    new_id = expense_id(await add(world))
    request = expense_pb2.CreateCommentRequest(parent=f"groups/{GROUP}/expenses/{new_id}")
    created = await world.uc.comment(
        A,
        GROUP,
        new_id,
        "who had dessert?",
        world.once(request, expense_pb2.Comment, "CreateComment"),
        lambda c, names: expense_pb2.Comment(
            name=c.name, text=c.text, author_display_name=names.get(c.author, "")
        ),
    )
    assert created.author_display_name == "Asha"
    comment_id = created.name.rsplit("/", 1)[1]
    assert (await world.uc.get(A, GROUP, new_id)).comment_count == 1
    assert isinstance(world.repos.outbox.events()[-1], ev.ExpenseCommented)
    found, names = await world.uc.comments(A, GROUP, new_id, after=None, limit=10)
    assert [c.text for c in found] == ["who had dessert?"]
    assert names == {A: "Asha"}

    with pytest.raises(NotAllowed):
        await world.uc.delete_comment(B, GROUP, new_id, comment_id)
    await world.uc.delete_comment(A, GROUP, new_id, comment_id)
    assert (await world.uc.get(A, GROUP, new_id)).comment_count == 0
    assert (await world.uc.comments(A, GROUP, new_id, after=None, limit=10))[0] == []
    with pytest.raises(NotFound):
        await world.uc.delete_comment(A, GROUP, new_id, comment_id)
    # The tombstone stays for the change feed.
    assert world.repos.comments_by_id[comment_id].deleted_at is not None


async def test_a_comment_on_a_missing_expense_is_not_found_and_writes_nothing(world: World) -> None:
    request = expense_pb2.CreateCommentRequest(parent=f"groups/{GROUP}/expenses/x")
    with pytest.raises(NotFound):
        await world.uc.comment(
            A,
            GROUP,
            str(uuid.uuid4()),
            "hello",
            world.once(request, expense_pb2.Comment, "CreateComment"),
            lambda c, _: expense_pb2.Comment(),
        )
    assert world.repos.comments_by_id == {}
    assert world.repos.outbox.recorded == []


# --- the activity feed from other services' events -----------------------------------------


async def test_a_redelivered_event_makes_one_feed_entry(world: World) -> None:
    entry = Entry(
        id=str(uuid.uuid4()),
        group_id=GROUP,
        actor=B,
        verb="settled",
        subject=f"groups/{GROUP}/settlements/s1",
        details={"kind": "settlement", "payer": B, "payee": A},
        created_at=clock.now(),
        currency="INR",
        amount_minor=300,
        effects={B: 300, A: -300},
    )
    writer = FeedWriter(world.uow)
    assert await writer.record(entry) is True
    assert await writer.record(entry) is False
    found, names, _ = await world.uc.activities(A, [GROUP], before=None, limit=10)
    assert [a.id for _, a in found] == [entry.id]
    assert names == {A: "Asha", B: "Bilal"}


# --- recurring rules ----------------------------------------------------------------------


async def test_recurring_rules_create_each_occurrence_once(world: World) -> None:
    schedule = Schedule(Frequency.WEEKLY, 1, TODAY, None)
    rule = await add_rule(world, schedule)
    assert rule.next_occurrence == TODAY
    assert events_of(world.repos, ev.RecurringRuleChanged)[0].change == ev.CREATED

    job = RecurringJob(world.uow, world.uc)
    run_date = date(2026, 3, 28)
    result = await job.run(run_date)
    assert (result.rules_processed, result.expenses_created) == (1, 3)
    again = await job.run(run_date)
    assert again.expenses_created == 0
    occurrences = [e for e in world.repos.expenses.values() if e.recurring_rule_id == rule.id]
    assert sorted(e.id for e in occurrences) == sorted(
        occurrence_id(rule.id, date(2026, 3, d)) for d in (14, 21, 28)
    )
    assert (await world.uc.get_rule(A, GROUP, rule.id)).next_occurrence == date(2026, 4, 4)
    assert all(e.recurring for e in events_of(world.repos, ev.ExpenseChanged))


async def test_a_rule_whose_template_names_a_departed_member_fails_alone(world: World) -> None:
    schedule = Schedule(Frequency.DAILY, 1, TODAY, None)
    rule = await add_rule(world, schedule)
    world.groups.rosters[GROUP].discard(C)
    result = await RecurringJob(world.uow, world.uc).run(TODAY)
    assert result.failed_rules == [rule.name]
    assert world.repos.expenses == {}


async def test_rule_updates_check_the_etag_and_deleted_rules_are_gone(world: World) -> None:
    schedule = Schedule(Frequency.MONTHLY, 1, TODAY, None)
    rule = await add_rule(world, schedule)
    paused = await world.uc.update_rule(A, GROUP, rule.id, RuleChanges(paused=True), etag.make(rule.name, 1))
    assert (paused.paused, paused.version) == (True, 2)
    with pytest.raises(EtagMismatch):
        await world.uc.update_rule(A, GROUP, rule.id, RuleChanges(paused=False), etag.make(rule.name, 1))
    assert (await RecurringJob(world.uow, world.uc).run(TODAY)).rules_processed == 0  # paused
    await world.uc.delete_rule(A, GROUP, rule.id, "")
    with pytest.raises(NotFound):
        await world.uc.get_rule(A, GROUP, rule.id)
    changes = [e.change for e in events_of(world.repos, ev.RecurringRuleChanged)]
    assert changes == [ev.CREATED, ev.UPDATED, ev.DELETED]


# --- reports ------------------------------------------------------------------------------


async def test_a_spending_summary_counts_live_expenses_and_the_callers_share(world: World) -> None:
    await add(world, draft(900))
    await add(world, draft(400, people=(B, C), payer=B, category=Category.TRANSPORT))
    gone = expense_id(await add(world, draft(5000)))
    await world.uc.set_deleted(A, GROUP, gone, True, "")

    whole = await world.uc.summarize_spending(A, GROUP, "INR", None, None, caller_share_only=False)
    assert whole.total_minor == 1300
    assert whole.categories == [(Category.FOOD, 900, 1), (Category.TRANSPORT, 400, 1)]
    assert whole.months[-1] == (date(2026, 3, 1), 1300)
    assert len(whole.months) == 12
    assert whole.members == [(A, 900, 300), (B, 400, 500), (C, 0, 500)]

    mine = await world.uc.summarize_spending(A, "-", "INR", None, None, caller_share_only=True)
    assert (mine.total_minor, mine.categories, mine.members) == (300, [(Category.FOOD, 300, 1)], [])
    with pytest.raises(InvalidArgument):
        await world.uc.summarize_spending(A, GROUP, "INR", TODAY, date(2026, 1, 1), caller_share_only=False)


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        self.objects[Key] = Body

    def generate_presigned_url(self, *args: Any, **kwargs: Any) -> str:
        return "https://example.test/download"


async def test_an_export_is_queued_once_then_built_and_announced(world: World) -> None:
    s3 = FakeS3()
    files = FileUseCases(
        world.uow,
        world.uc,
        world.groups,
        FakeGroupInfo("Trip", {A: "Asha", B: "Bilal", C: "Chen"}),
        FakeSettlements(),
        s3,
        receipts_bucket="receipts",
        exports_bucket="exports",
    )
    await add(world)
    request = expense_pb2.ExportGroupRequest(group=f"groups/{GROUP}", request_id=str(uuid.uuid4()))
    once = world.once(request, expense_pb2.Export, "ExportGroupCsv")
    first = await files.request_export(
        A, GROUP, "csv", None, None, once, lambda row: expense_pb2.Export(name=row.name)
    )
    again = await files.request_export(
        A, GROUP, "csv", None, None, once, lambda row: expense_pb2.Export(name=row.name)
    )
    assert first == again
    assert len(world.repos.exports) == 1
    assert isinstance(world.repos.outbox.events()[-1], ev.ExportRequested)

    assert await files.build_one() is True
    assert await files.build_one() is False  # nothing left to build
    [row] = world.repos.exports.values()
    assert row.state == "succeeded"
    csv = s3.objects[row.object_key or ""].decode()
    assert "Dinner" in csv and "Asha" in csv
    ready = events_of(world.repos, ev.ExportReady)
    assert [(e.export, e.user) for e in ready] == [(row.id, A)]

    other = world.once(
        expense_pb2.ExportGroupRequest(group=f"groups/{GROUP}"), expense_pb2.Export, "ExportGroupCsv"
    )
    with pytest.raises(NotFound):
        await files.request_export(
            OUTSIDER, GROUP, "csv", None, None, other, lambda row: expense_pb2.Export()
        )
