"""Expense use cases: membership, one transaction per write (row, ledger, outbox, feed).

Membership is asked of group-service before the transaction opens, so no database
row is held while waiting on the network. A caller who is not a member is told the
group does not exist; a payer or participant who is not a member is INVALID_ARGUMENT
naming the field that named them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from hisaab.events.v1 import events_pb2 as ev

from libs import clock, etag
from libs.db.unit_of_work import UnitOfWork
from libs.errors import EtagMismatch, FailedPrecondition, InvalidArgument, NotAllowed, NotFound
from libs.idempotency import M, Once
from libs.ledger.postings import Posting, diff, nets
from libs.names import EVERY_GROUP, GROUP_NOT_FOUND
from services.expense import domain, spending
from services.expense.activity import entries
from services.expense.domain import (
    Activity,
    Announcement,
    ChangeType,
    Comment,
    Draft,
    Expense,
    ExpenseFilter,
    NewActivity,
    SplitSpec,
    Updates,
    expense_name,
)
from services.expense.ports import Directory, ExpenseRepositories, Groups, Presets
from services.expense.recurrence import Rule, Schedule

EXPENSE_NOT_FOUND = "expense not found"
# An update re-reads and re-validates when another write lands between its read and its
# write; without an etag from the client this is how the edit stays based on fresh data.
UPDATE_ATTEMPTS = 5


@dataclass(frozen=True)
class Prepared:
    """A validated create: the new id and the postings it will write."""

    expense_id: str
    draft: Draft
    postings: dict[str, Posting]


@dataclass(frozen=True)
class RuleChanges:
    schedule: Schedule | None = None
    template: Draft | None = None
    paused: bool | None = None


def _announcement(
    caller: str,
    group_id: str,
    expense_id: str,
    draft: Draft,
    recurring: bool,
    change: ChangeType,
    effects: dict[str, int],
    changes: list[dict[str, Any]] | None = None,
) -> Announcement:
    """The outbox event and the feed entry of one write to an expense."""
    name = expense_name(group_id, expense_id)
    event = ev.ExpenseChanged(
        group=group_id,
        expense=expense_id,
        change=domain.CHANGE_KIND[change],
        description=draft.description,
        currency_code=draft.currency,
        total_minor=draft.total_minor,
        deltas=effects,
        recurring=recurring,
    )
    details: dict[str, Any] = {
        "description": draft.description,
        "currency": draft.currency,
        "amount_minor": draft.total_minor,
    }
    if changes is not None:
        event.changes.extend(c["field"] for c in changes)
        details["changes"] = changes
    activity = NewActivity(
        group_id=group_id,
        actor=caller,
        verb=domain.ACTIVITY_VERB[change],
        subject=name,
        details=details,
        currency=draft.currency,
        amount_minor=draft.total_minor,
        effects=effects,
    )
    return Announcement(event, name, caller, activity)


class ExpenseUseCases:
    def __init__(
        self,
        uow: UnitOfWork[ExpenseRepositories],
        groups: Groups,
        users: Directory,
        *,
        presets: Presets | None = None,
        today: Callable[[], date] = clock.business_today,
        now: clock.Clock = clock.now,
    ) -> None:
        self._now = now
        self._uow = uow
        self._groups = groups
        self._users = users
        self._presets = presets
        self._today = today

    # --- membership ------------------------------------------------------------------------

    async def require_member(self, caller: str, group_id: str) -> None:
        """The group ids here come through libs.names.group (a UUID) or from storage."""
        members = await self._groups.members_among(group_id, [caller])
        if not members or caller not in members:
            raise NotFound(GROUP_NOT_FOUND)

    async def _check_people(self, caller: str, group_id: str, draft: Draft, prefix: str) -> None:
        named = domain.user_fields(draft, prefix)
        members = await self._groups.members_among(group_id, sorted({caller, *named}))
        if members is None or caller not in members:
            raise NotFound(GROUP_NOT_FOUND)
        for user, path in named.items():
            if user not in members:
                raise InvalidArgument(path, "is not a member of the group")

    async def summarize_spending(
        self,
        caller: str,
        group_id: str,
        currency: str,
        start: date | None,
        end: date | None,
        *,
        caller_share_only: bool,
    ) -> spending.Summary:
        """Spending in ``group_id`` (or every group of the caller for "-"); by default the
        twelve months up to today."""
        end = end or self._today()
        start = start or spending.months_back(end, 11)
        if start > end:
            raise InvalidArgument("start_date", "must not be after end_date")
        if (end - start).days > 3 * 366:
            raise InvalidArgument("start_date", "a summary covers at most three years")
        group_ids = await self.group_ids(caller, group_id)
        async with self._uow.read() as repos:
            rows = await repos.spending_rows(group_ids, currency, start, end)
            ids = [r.id for r in rows]
            # The amount per expense: the whole total, or the caller's owed part from the ledger.
            owed = await repos.owed_by(ids, caller) if caller_share_only else None
            members = await repos.totals_by_user(ids) if group_id != EVERY_GROUP else []
        return spending.summarize(rows, start, end, owed=owed, members=members)

    async def group_ids(self, caller: str, group_id: str) -> list[str]:
        """The groups a feed covers: one group, or every group of the caller for "-"."""
        if group_id == EVERY_GROUP:
            return await self._groups.groups_of_caller()
        await self.require_member(caller, group_id)
        return [group_id]

    # --- expenses --------------------------------------------------------------------------

    async def preset_split(
        self, caller: str, group_id: str, preset_id: str, currency: str, total_minor: int, prefix: str
    ) -> SplitSpec:
        """The split a group's preset ("default": the group's default) gives a new expense."""
        await self.require_member(caller, group_id)
        view = await self._presets.preset(group_id, preset_id) if self._presets is not None else None
        field = f"{prefix}.split_preset"
        if view is None:
            if preset_id == "default":
                raise InvalidArgument(f"{prefix}.split", "is required: the group has no default split preset")
            raise InvalidArgument(field, "no such split preset in this group")
        return domain.preset_split(
            view.mode,
            view.entries,
            currency,
            total_minor,
            preset_currency=view.currency_code,
            departed=view.departed,
            preset=view.name,
            field=field,
        )

    async def check_template_people(self, creator: str, group_id: str, draft: Draft) -> None:
        """A recurring rule's people must still be members when an occurrence is created."""
        await self._check_people(creator, group_id, draft, "recurring_expense.template")

    async def add(
        self,
        caller: str,
        group_id: str,
        draft: Draft,
        once: Once[ExpenseRepositories, M],
        present: Callable[[Expense], M],
    ) -> M:
        """CreateExpense: the people are checked against the roster before the transaction;
        the expense, its ledger entry, the feed entry and the event are written in it."""
        prepared = await self.prepare_create(caller, group_id, draft)

        async def work(repos: ExpenseRepositories) -> M:
            return present(await self.create(repos, caller, group_id, prepared, last=True))

        return await once(work)

    async def prepare_create(self, caller: str, group_id: str, draft: Draft) -> Prepared:
        expense_id = str(uuid.uuid4())
        postings = domain.postings(draft, seed=expense_id)
        await self._check_people(caller, group_id, draft, "expense")
        return Prepared(expense_id, draft, postings)

    async def create(
        self,
        repos: ExpenseRepositories,
        caller: str,
        group_id: str,
        new: Prepared,
        *,
        recurring_rule_id: str | None = None,
        last: bool = False,
    ) -> Expense:
        """Writes a validated expense in the caller's transaction. ``last``: the transaction
        does nothing with it afterwards, so its writes can go out with the COMMIT."""
        draft = new.draft
        effects = diff({}, new.postings)
        announcement = _announcement(
            caller, group_id, new.expense_id, draft, bool(recurring_rule_id), ChangeType.CREATED, effects
        )
        return await repos.create_expense(
            expense_id=new.expense_id,
            group_id=group_id,
            draft=draft,
            postings=new.postings,
            creator=caller,
            recurring_rule_id=recurring_rule_id,
            announcement=announcement,
            created_at=self._now(),
            last=last,
        )

    async def load(
        self, repos: ExpenseRepositories, group_id: str, expense_id: str, *, lock: bool = False
    ) -> Expense:
        """The expense as ``repos`` sees it (NOT_FOUND if absent); membership is the caller's check."""
        expense = await repos.get_expense(group_id, expense_id, lock=lock)
        if expense is None:
            raise NotFound(EXPENSE_NOT_FOUND)
        return expense

    async def _announce(
        self,
        repos: ExpenseRepositories,
        caller: str,
        expense: Expense,
        change: ChangeType,
        effects: dict[str, int],
        changes: list[dict[str, Any]] | None = None,
    ) -> None:
        """The outbox event and the feed entry of one write, in its transaction."""
        await repos.announce(
            _announcement(
                caller,
                expense.group_id,
                expense.id,
                expense.draft,
                bool(expense.recurring_rule_id),
                change,
                effects,
                changes,
            )
        )

    async def get(self, caller: str, group_id: str, expense_id: str) -> Expense:
        await self.require_member(caller, group_id)
        async with self._uow.read() as repos:
            return await self.load(repos, group_id, expense_id)

    async def list_expenses(
        self, caller: str, group_id: str, filters: ExpenseFilter, *, after: list[Any] | None, limit: int
    ) -> list[Expense]:
        await self.require_member(caller, group_id)
        async with self._uow.read() as repos:
            return await repos.list_expenses(group_id, filters, after=after, limit=limit)

    async def update(
        self, caller: str, group_id: str, expense_id: str, updates: Updates, sent_etag: str
    ) -> Expense:
        await self.require_member(caller, group_id)
        for _ in range(UPDATE_ATTEMPTS):
            async with self._uow.transaction() as repos:
                current = await self.load(repos, group_id, expense_id)
            etag.check(sent_etag, current.name, current.version)
            if current.deleted:
                raise FailedPrecondition("the expense is deleted; restore it first")
            draft = domain.apply_updates(current.draft, updates)
            if draft == current.draft:
                return current
            postings = domain.postings(draft, seed=expense_id)
            await self._check_people(caller, group_id, draft, "expense")
            async with self._uow.transaction() as repos:
                locked = await self.load(repos, group_id, expense_id, lock=True)
                if locked.version != current.version:
                    continue  # changed meanwhile: the etag check or the merge must see the new state
                await repos.update_expense(expense_id, draft, postings, caller)
                await repos.ledger.replace(
                    expense_id,
                    currency=draft.currency,
                    total_minor=draft.total_minor,
                    postings=postings,
                )
                updated = await self.load(repos, group_id, expense_id)
                effects = self._effects(current, updated)
                await self._announce(
                    repos, caller, updated, ChangeType.UPDATED, effects, domain.changes(current.draft, draft)
                )
                return updated
        raise EtagMismatch("the expense keeps changing; fetch it again and retry")

    @staticmethod
    def _effects(old: Expense, new: Expense) -> dict[str, int]:
        # Balance effects only mean something within one currency; a currency change
        # moves each person out of the old currency and into the new one.
        if old.draft.currency == new.draft.currency:
            return diff(old.postings, new.postings)
        return nets(new.postings)

    async def set_deleted(
        self, caller: str, group_id: str, expense_id: str, deleted: bool, sent_etag: str
    ) -> Expense:
        await self.require_member(caller, group_id)
        async with self._uow.transaction() as repos:
            current = await self.load(repos, group_id, expense_id, lock=True)
            etag.check(sent_etag, current.name, current.version)
            if current.deleted == deleted:
                return current  # deleting twice (or restoring a live expense) changes nothing
            await repos.set_deleted(expense_id, deleted, caller)
            await repos.ledger.set_active(expense_id, not deleted)
            updated = await self.load(repos, group_id, expense_id)
            effects = diff(current.postings, {}) if deleted else diff({}, current.postings)
            change = ChangeType.DELETED if deleted else ChangeType.RESTORED
            await self._announce(repos, caller, updated, change, effects)
            return updated

    async def feed_groups(self, caller: str, group_id: str, *, resuming: bool) -> list[str]:
        """The groups a change feed covers now. A client resuming a one-group feed after
        losing access gets an empty set (and so ACCESS_REVOKED), not NOT_FOUND."""
        if group_id == EVERY_GROUP:
            return await self._groups.groups_of_caller()
        if resuming:
            members = await self._groups.members_among(group_id, [caller])
            return [group_id] if members and caller in members else []
        await self.require_member(caller, group_id)
        return [group_id]

    async def changes(
        self,
        group_ids: list[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> list[Expense | Comment]:
        if not group_ids:
            return []
        # On the writer: the feed's "every older transaction is over" test needs the
        # primary's view of running transactions.
        async with self._uow.transaction() as repos:
            return await repos.changes_since(group_ids, after, upto, limit)

    # --- comments --------------------------------------------------------------------------

    async def comment(
        self,
        caller: str,
        group_id: str,
        expense_id: str,
        text: str,
        once: Once[ExpenseRepositories, M],
        present: Callable[[Comment, dict[str, str]], M],
    ) -> M:
        """CreateComment: membership and the author's name come from other services before
        the transaction; the comment, its event and its feed entry are written in it."""
        await self.require_member(caller, group_id)
        names = await self.display_names([caller])

        async def work(repos: ExpenseRepositories) -> M:
            return present(await self.add_comment(repos, caller, group_id, expense_id, text), names)

        return await once(work)

    async def add_comment(
        self, repos: ExpenseRepositories, caller: str, group_id: str, expense_id: str, text: str
    ) -> Comment:
        expense = await self.load(repos, group_id, expense_id)
        comment = await repos.insert_comment(group_id, expense_id, caller, text)
        activity = NewActivity(
            group_id=group_id,
            actor=caller,
            verb="commented",
            subject=expense.name,
            details={"description": expense.draft.description, "text": text},
        )
        event = ev.ExpenseCommented(group=group_id, expense=expense_id, comment=comment.id)
        await repos.announce(Announcement(event, expense.name, caller, activity))
        return comment

    async def comments(
        self, caller: str, group_id: str, expense_id: str, *, after: list[Any] | None, limit: int
    ) -> tuple[list[Comment], dict[str, str]]:
        await self.require_member(caller, group_id)
        async with self._uow.read() as repos:
            await self.load(repos, group_id, expense_id)
            found = await repos.comments(expense_id, after=after, limit=limit)
        return found, await self._users.display_names([c.author for c in found])

    async def delete_comment(self, caller: str, group_id: str, expense_id: str, comment_id: str) -> None:
        await self.require_member(caller, group_id)
        async with self._uow.transaction() as repos:
            await self.load(repos, group_id, expense_id, lock=True)
            comment = await repos.get_comment(expense_id, comment_id)
            if comment is None:
                raise NotFound("comment not found")
            if comment.author != caller:
                raise NotAllowed("only the author can delete a comment")
            await repos.delete_comment(comment)

    async def display_names(self, user_ids: list[str]) -> dict[str, str]:
        return await self._users.display_names(user_ids)

    # --- activity feed ---------------------------------------------------------------------

    async def activities(
        self, caller: str, group_ids: list[str], *, before: int | None, limit: int
    ) -> tuple[list[tuple[int, Activity]], dict[str, str], str]:
        """A feed page, the names it mentions, and the caller's locale to word it in."""
        if not group_ids:
            return [], {}, ""
        async with self._uow.read() as repos:
            found = await repos.activities(group_ids, before=before, limit=limit)
        named = {a.actor for _, a in found} | {u for _, a in found for u in entries.people(a.details)}
        names, locale = await self._users.names_and_locale(sorted(named), caller)
        return found, names, locale

    # --- recurring rules -------------------------------------------------------------------

    def next_occurrence(self, schedule: Schedule) -> date | None:
        """Occurrences before today are not created after the fact, so the next one is
        the first on or after today (or after the start, when that is later)."""
        return schedule.first_on_or_after(max(schedule.start_date, self._today()))

    async def add_rule(
        self,
        caller: str,
        group_id: str,
        schedule: Schedule,
        template: Draft,
        paused: bool,
        once: Once[ExpenseRepositories, M],
        present: Callable[[Rule], M],
    ) -> M:
        """CreateRecurringExpense: the template's people are checked before the transaction."""
        await self.prepare_rule(caller, group_id, template)

        async def work(repos: ExpenseRepositories) -> M:
            return present(await self.create_rule(repos, caller, group_id, schedule, template, paused))

        return await once(work)

    async def prepare_rule(self, caller: str, group_id: str, template: Draft) -> None:
        domain.postings(template, seed="template", prefix="recurring_expense.template")
        await self._check_people(caller, group_id, template, "recurring_expense.template")

    async def create_rule(
        self,
        repos: ExpenseRepositories,
        caller: str,
        group_id: str,
        schedule: Schedule,
        template: Draft,
        paused: bool,
    ) -> Rule:
        rule = await repos.insert_rule(
            group_id=group_id,
            schedule=schedule,
            template=template,
            paused=paused,
            next_occurrence=self.next_occurrence(schedule),
            creator=caller,
        )
        await repos.outbox.record(
            ev.RecurringRuleChanged(group=group_id, change=ev.CREATED), rule.name, actor=caller
        )
        return rule

    async def _rule(
        self, repos: ExpenseRepositories, group_id: str, rule_id: str, *, lock: bool = False
    ) -> Rule:
        rule = await repos.get_rule(group_id, rule_id, lock=lock)
        if rule is None:
            raise NotFound("recurring expense not found")
        return rule

    async def get_rule(self, caller: str, group_id: str, rule_id: str) -> Rule:
        await self.require_member(caller, group_id)
        async with self._uow.read() as repos:
            return await self._rule(repos, group_id, rule_id)

    async def rules(self, caller: str, group_id: str, *, after: list[Any] | None, limit: int) -> list[Rule]:
        await self.require_member(caller, group_id)
        async with self._uow.read() as repos:
            return await repos.rules(group_id, after=after, limit=limit)

    async def update_rule(
        self, caller: str, group_id: str, rule_id: str, changes: RuleChanges, sent_etag: str
    ) -> Rule:
        if changes.template is not None:
            await self.prepare_rule(caller, group_id, changes.template)
        else:
            await self.require_member(caller, group_id)
        async with self._uow.transaction() as repos:
            rule = await self._rule(repos, group_id, rule_id, lock=True)
            etag.check(sent_etag, rule.name, rule.version)
            schedule = changes.schedule or rule.schedule
            if schedule.end_date is not None and schedule.end_date < schedule.start_date:
                raise InvalidArgument("recurring_expense.end_date", "must not be before start_date")
            await repos.update_rule(
                rule_id,
                schedule,
                changes.template or rule.template,
                rule.paused if changes.paused is None else changes.paused,
                self.next_occurrence(schedule),
            )
            await repos.outbox.record(
                ev.RecurringRuleChanged(group=group_id, change=ev.UPDATED), rule.name, actor=caller
            )
            return await self._rule(repos, group_id, rule_id)

    async def delete_rule(self, caller: str, group_id: str, rule_id: str, sent_etag: str) -> None:
        await self.require_member(caller, group_id)
        async with self._uow.transaction() as repos:
            rule = await self._rule(repos, group_id, rule_id, lock=True)
            etag.check(sent_etag, rule.name, rule.version)
            await repos.delete_rule(rule_id)
            await repos.outbox.record(
                ev.RecurringRuleChanged(group=group_id, change=ev.DELETED), rule.name, actor=caller
            )
