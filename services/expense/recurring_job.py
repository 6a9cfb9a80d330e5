"""The scheduled job that turns recurring rules into expenses, exactly once per occurrence.

Each occurrence's expense id is derived from (rule, date), and a rule is handled
under its row lock, so a job that runs twice, or two jobs at once, create each
occurrence once. A rule that fails (e.g. a person in its template left the
group) is reported and retried on the next run; the others go on.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from libs.db.unit_of_work import UnitOfWork
from libs.errors import DomainError
from services.expense import domain
from services.expense.ports import ExpenseRepositories
from services.expense.recurrence import Rule
from services.expense.usecases import ExpenseUseCases, Prepared

log = logging.getLogger("hisaab.expense.recurring")

OCCURRENCE_NAMESPACE = uuid.UUID("5e0c7a43-2f1d-4b8e-9a6c-7d3b1f0e2c95")
MAX_CATCH_UP = 400  # occurrences per rule per run: a year of dailies, then the next run goes on


def occurrence_id(rule_id: str, day: date) -> str:
    return str(uuid.uuid5(OCCURRENCE_NAMESPACE, f"{rule_id}/{day.isoformat()}"))


def rule_name(group_id: str, rule_id: str) -> str:
    return f"groups/{group_id}/recurringExpenses/{rule_id}"


@dataclass(frozen=True)
class RuleRun:
    rule: str
    expenses_created: int
    failed: bool = False


@dataclass
class RunResult:
    rules: list[RuleRun] = field(default_factory=list)

    @property
    def rules_processed(self) -> int:
        return len(self.rules)

    @property
    def expenses_created(self) -> int:
        return sum(r.expenses_created for r in self.rules)

    @property
    def failed_rules(self) -> list[str]:
        return [r.rule for r in self.rules if r.failed]


class RecurringJob:
    def __init__(self, uow: UnitOfWork[ExpenseRepositories], expenses: ExpenseUseCases):
        self._uow = uow
        self._expenses = expenses

    async def run(self, run_date: date, group_id: str | None = None) -> RunResult:
        """Creates the occurrences due on or before ``run_date``: of every group's rules, or of
        ``group_id``'s only (the result then speaks of nothing else)."""
        result = RunResult()
        async with self._uow.read() as repos:
            due = await repos.due_rules(run_date, group_id)
        for due_group, rule_id in due:
            name = rule_name(due_group, rule_id)
            try:
                result.rules.append(RuleRun(name, await self._run_rule(due_group, rule_id, run_date)))
            except DomainError as err:
                log.warning("recurring rule failed", extra={"rule": rule_id, "error": err.message})
                result.rules.append(RuleRun(name, 0, failed=True))
        return result

    async def _run_rule(self, group_id: str, rule_id: str, run_date: date) -> int:
        # Occurrences differ only in date, so the template's people are checked once per
        # rule, with group-service, before the rule's row lock is taken: no lock waits on
        # the network.
        async with self._uow.transaction() as repos:
            checked = await repos.get_rule(group_id, rule_id)
        if checked is None or checked.paused or checked.next_occurrence is None:
            return 0
        await self._expenses.check_template_people(checked.creator, group_id, checked.template)
        created = 0
        async with self._uow.transaction() as repos:
            rule = await repos.get_rule(group_id, rule_id, lock=True)
            if rule is None or rule.paused or rule.next_occurrence is None:
                return 0
            if (rule.creator, rule.template) != (checked.creator, checked.template):
                # Edited since the check (rare): check what is about to be used.
                await self._expenses.check_template_people(rule.creator, group_id, rule.template)
            day: date | None = rule.next_occurrence
            steps = 0
            while day is not None and day <= run_date and steps < MAX_CATCH_UP:
                steps += 1
                expense_id = occurrence_id(rule.id, day)
                if await repos.get_expense(group_id, expense_id) is None:
                    await self._create(repos, rule, expense_id, day)
                    created += 1
                day = rule.schedule.first_on_or_after(day + timedelta(days=1))
            await repos.update_rule(rule.id, rule.schedule, rule.template, rule.paused, day)
        return created

    async def _create(self, repos: ExpenseRepositories, rule: Rule, expense_id: str, day: date) -> None:
        draft = replace(rule.template, transaction_date=day)
        postings = domain.postings(draft, seed=expense_id)
        await self._expenses.create(
            repos,
            rule.creator,
            rule.group_id,
            Prepared(expense_id, draft, postings),
            recurring_rule_id=rule.id,
        )
