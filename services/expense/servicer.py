"""ExpenseService over gRPC: proto ⇄ use cases. Idempotent creates keep their proto response.

Receipts, exports, the Splitwise import, spending charts and the recurring job answer
UNIMPLEMENTED until the issues that build them land.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message
from hisaab.common.v1 import money_pb2
from hisaab.expense.v1 import expense_pb2, expense_pb2_grpc

from libs import idempotency, pagination, validation
from libs.auth.caller import require_caller
from libs.db.database import Database
from libs.errors import DomainError, InvalidArgument
from services.expense import codec, summaries
from services.expense.domain import Activity, ChangeType, Comment, Expense
from services.expense.repository import ORDERS, ExpenseFilter, order_key
from services.expense.usecases import ExpenseUseCases, RuleChanges

M = TypeVar("M", bound=Message)

CHANGES_DEFAULT_PAGE = 200
CHANGES_MAX_PAGE = 500
_CHANGE_TYPE = {
    ChangeType.CREATED: expense_pb2.ExpenseChange.CREATED,
    ChangeType.UPDATED: expense_pb2.ExpenseChange.UPDATED,
    ChangeType.DELETED: expense_pb2.ExpenseChange.DELETED,
    ChangeType.RESTORED: expense_pb2.ExpenseChange.RESTORED,
}
_VERB = {
    "created": expense_pb2.Activity.CREATED,
    "edited": expense_pb2.Activity.EDITED,
    "deleted": expense_pb2.Activity.DELETED,
    "restored": expense_pb2.Activity.RESTORED,
    "commented": expense_pb2.Activity.COMMENTED,
}
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


class NotBuiltYet(DomainError):
    """A method of the contract whose implementation is a later issue's."""

    code = grpc.StatusCode.UNIMPLEMENTED
    reason = "INTERNAL"


def _group_id(name: str, field: str = "parent", *, allow_all: bool = False) -> str:
    group_id = validation.resource_id(name, "groups", field)
    if group_id == "-" and not allow_all:
        raise InvalidArgument(field, "must name one group")
    return group_id


def _parts(name: str, collection: str, field: str) -> tuple[str, str]:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "groups" or parts[2] != collection or not parts[1] or not parts[3]:
        raise InvalidArgument(field, f"must look like groups/<id>/{collection}/<id>")
    return parts[1], parts[3]


def _comment_parts(name: str) -> tuple[str, str, str]:
    parts = name.split("/")
    if (
        len(parts) != 6
        or parts[0] != "groups"
        or parts[2] != "expenses"
        or parts[4] != "comments"
        or not all(parts)
    ):
        raise InvalidArgument("name", "must look like groups/<id>/expenses/<id>/comments/<id>")
    return parts[1], parts[3], parts[5]


def _comment_pb(comment: Comment, names: dict[str, str]) -> expense_pb2.Comment:
    return expense_pb2.Comment(
        name=comment.name,
        author=f"users/{comment.author}",
        author_display_name=names.get(comment.author, ""),
        text=comment.text,
        create_time=codec.timestamp(comment.created_at),
    )


def _activity_pb(activity: Activity, names: dict[str, str], caller: str) -> expense_pb2.Activity:
    actor = names.get(activity.actor, "") or "Someone"
    proto = expense_pb2.Activity(
        name=f"groups/{activity.group_id}/activities/{activity.id}",
        actor=f"users/{activity.actor}",
        actor_display_name=names.get(activity.actor, ""),
        verb=_VERB.get(activity.verb, expense_pb2.Activity.VERB_UNSPECIFIED),  # type: ignore[arg-type]
        subject=activity.subject,
        summary=summaries.summary(actor, activity.verb, activity.details),
        create_time=codec.timestamp(activity.created_at),
    )
    if activity.currency:
        proto.amount.CopyFrom(
            money_pb2.Money(currency_code=activity.currency, amount_minor=activity.amount_minor)
        )
    if activity.effects.get(caller):
        proto.caller_effect.CopyFrom(
            money_pb2.Money(currency_code=activity.currency, amount_minor=activity.effects[caller])
        )
    return proto


class ExpenseServicer(expense_pb2_grpc.ExpenseServiceServicer):
    def __init__(self, usecases: ExpenseUseCases, db: Database):
        self._uc = usecases
        self._db = db

    async def _once(
        self, scope: str, request: Any, response_type: type[M], work: Callable[[Any], Awaitable[M]]
    ) -> M:
        caller = require_caller()
        async with self._db.transaction() as conn:
            return await idempotency.run_once(
                conn,
                scope=f"expense.{scope}",
                caller=caller.user_id,
                request=request,
                request_id=request.request_id,
                response_type=response_type,
                work=lambda: work(conn),
            )

    # --- expenses --------------------------------------------------------------------------

    async def CreateExpense(
        self, request: expense_pb2.CreateExpenseRequest, context: Any
    ) -> expense_pb2.Expense:
        caller = require_caller().user_id
        group_id = _group_id(request.parent)
        idempotency.validate_request_id(request.request_id)
        prepared = await self._uc.prepare_create(
            caller, group_id, codec.draft(request.expense, "expense", caller)
        )

        async def work(conn: Any) -> expense_pb2.Expense:
            return codec.expense_pb(await self._uc.create(conn, caller, group_id, prepared))

        return await self._once("CreateExpense", request, expense_pb2.Expense, work)

    async def GetExpense(self, request: expense_pb2.GetExpenseRequest, context: Any) -> expense_pb2.Expense:
        group_id, expense_id = _parts(request.name, "expenses", "name")
        return codec.expense_pb(await self._uc.get(require_caller().user_id, group_id, expense_id))

    async def ListExpenses(
        self, request: expense_pb2.ListExpensesRequest, context: Any
    ) -> expense_pb2.ListExpensesResponse:
        caller = require_caller().user_id
        group_id = _group_id(request.parent)
        order_by = " ".join(request.order_by.split()) or "expense_date desc"
        if order_by not in ORDERS:
            raise InvalidArgument("order_by", f"must be one of: {', '.join(ORDERS)}")
        filters = ExpenseFilter(
            start_date=codec.parse_date(request.start_date, "start_date")
            if request.HasField("start_date")
            else None,
            end_date=codec.parse_date(request.end_date, "end_date") if request.HasField("end_date") else None,
            payer=codec.user_id(request.payer, "payer") if request.payer else "",
            participant=codec.user_id(request.participant, "participant") if request.participant else "",
            categories=tuple(codec.category(c, f"categories[{i}]") for i, c in enumerate(request.categories)),
            query=validation.text(request.query, "query", max_length=200),
            show_deleted=request.show_deleted,
            order_by=order_by,
        )
        query = {"group": group_id, "caller": caller, "filters": repr(filters)}
        size = pagination.page_size(request.page_size)
        cursor = pagination.decode(request.page_token, query)
        found = await self._uc.list_expenses(
            caller, group_id, filters, after=cursor.key if cursor else None, limit=size + 1
        )
        page = found[:size]
        token = pagination.encode(order_key(page[-1], order_by), query) if len(found) > size else ""
        return expense_pb2.ListExpensesResponse(
            expenses=[codec.expense_pb(e) for e in page], next_page_token=token
        )

    async def UpdateExpense(
        self, request: expense_pb2.UpdateExpenseRequest, context: Any
    ) -> expense_pb2.Expense:
        caller = require_caller().user_id
        group_id, expense_id = _parts(request.expense.name, "expenses", "expense.name")
        updates = codec.updates(request.expense, list(request.update_mask.paths))
        return codec.expense_pb(
            await self._uc.update(caller, group_id, expense_id, updates, request.expense.etag)
        )

    async def DeleteExpense(
        self, request: expense_pb2.DeleteExpenseRequest, context: Any
    ) -> expense_pb2.Expense:
        group_id, expense_id = _parts(request.name, "expenses", "name")
        return codec.expense_pb(
            await self._uc.set_deleted(require_caller().user_id, group_id, expense_id, True, request.etag)
        )

    async def UndeleteExpense(
        self, request: expense_pb2.UndeleteExpenseRequest, context: Any
    ) -> expense_pb2.Expense:
        group_id, expense_id = _parts(request.name, "expenses", "name")
        return codec.expense_pb(
            await self._uc.set_deleted(require_caller().user_id, group_id, expense_id, False, request.etag)
        )

    async def ListExpenseChanges(
        self, request: expense_pb2.ListExpenseChangesRequest, context: Any
    ) -> expense_pb2.ListExpenseChangesResponse:
        caller = require_caller().user_id
        group_id = _group_id(request.parent, allow_all=True)
        size = pagination.page_size(request.page_size, default=CHANGES_DEFAULT_PAGE, maximum=CHANGES_MAX_PAGE)
        # Cursors are tied to the feed they came from, never to a page size.
        query = {"feed": group_id, "caller": caller}
        cursor = pagination.decode(request.cursor, query)
        after = (int(cursor.key[0]), str(cursor.key[1])) if cursor else None
        groups = await self._uc.group_ids(caller, group_id)
        found = await self._uc.changes(groups, after, size + 1)
        page = found[:size]
        last = page[-1].change_key if page else (after or (0, _ZERO_UUID))
        return expense_pb2.ListExpenseChangesResponse(
            changes=[self._change(e) for e in page],
            next_cursor=pagination.encode([last[0], last[1]], query),
            has_more=len(found) > size,
        )

    @staticmethod
    def _change(expense: Expense) -> expense_pb2.ExpenseChange:
        change = expense_pb2.ExpenseChange(
            change_type=_CHANGE_TYPE[expense.last_change],  # type: ignore[arg-type]
            change_time=codec.timestamp(expense.updated_at),
        )
        if expense.deleted:
            change.removed = expense.name
        else:
            change.expense.CopyFrom(codec.expense_pb(expense))
        return change

    # --- comments --------------------------------------------------------------------------

    async def CreateComment(
        self, request: expense_pb2.CreateCommentRequest, context: Any
    ) -> expense_pb2.Comment:
        caller = require_caller().user_id
        group_id, expense_id = _parts(request.parent, "expenses", "parent")
        body = validation.text(request.comment.text, "comment.text", max_length=2000, required=True)
        idempotency.validate_request_id(request.request_id)
        await self._uc.require_member(caller, group_id)
        names = await self._uc.display_names([caller])

        async def work(conn: Any) -> expense_pb2.Comment:
            return _comment_pb(await self._uc.add_comment(conn, caller, group_id, expense_id, body), names)

        return await self._once("CreateComment", request, expense_pb2.Comment, work)

    async def ListComments(
        self, request: expense_pb2.ListCommentsRequest, context: Any
    ) -> expense_pb2.ListCommentsResponse:
        caller = require_caller().user_id
        group_id, expense_id = _parts(request.parent, "expenses", "parent")
        query = {"expense": request.parent, "caller": caller}
        size = pagination.page_size(request.page_size)
        cursor = pagination.decode(request.page_token, query)
        found, names = await self._uc.comments(
            caller, group_id, expense_id, after=cursor.key if cursor else None, limit=size + 1
        )
        page = found[:size]
        token = (
            pagination.encode([page[-1].created_at.isoformat(), page[-1].id], query)
            if len(found) > size
            else ""
        )
        return expense_pb2.ListCommentsResponse(
            comments=[_comment_pb(c, names) for c in page], next_page_token=token
        )

    async def DeleteComment(self, request: expense_pb2.DeleteCommentRequest, context: Any) -> empty_pb2.Empty:
        group_id, expense_id, comment_id = _comment_parts(request.name)
        await self._uc.delete_comment(require_caller().user_id, group_id, expense_id, comment_id)
        return empty_pb2.Empty()

    # --- activity feed ---------------------------------------------------------------------

    async def ListActivities(
        self, request: expense_pb2.ListActivitiesRequest, context: Any
    ) -> expense_pb2.ListActivitiesResponse:
        caller = require_caller().user_id
        group_id = _group_id(request.parent, allow_all=True)
        query = {"feed": group_id, "caller": caller}
        size = pagination.page_size(request.page_size)
        cursor = pagination.decode(request.page_token, query)
        groups = await self._uc.group_ids(caller, group_id)
        found, names = await self._uc.activities(
            groups, before=int(cursor.key[0]) if cursor else None, limit=size + 1
        )
        page = found[:size]
        token = pagination.encode([page[-1][0]], query) if len(found) > size else ""
        return expense_pb2.ListActivitiesResponse(
            activities=[_activity_pb(a, names, caller) for _, a in page], next_page_token=token
        )

    # --- recurring rules -------------------------------------------------------------------

    async def CreateRecurringExpense(
        self, request: expense_pb2.CreateRecurringExpenseRequest, context: Any
    ) -> expense_pb2.RecurringExpense:
        caller = require_caller().user_id
        group_id = _group_id(request.parent)
        rule = request.recurring_expense
        schedule = codec.schedule(rule)
        if not rule.HasField("template"):
            raise InvalidArgument("recurring_expense.template", "is required")
        template = codec.draft(rule.template, "recurring_expense.template", caller, need_date=False)
        idempotency.validate_request_id(request.request_id)
        await self._uc.prepare_rule(caller, group_id, template)

        async def work(conn: Any) -> expense_pb2.RecurringExpense:
            return codec.rule_pb(
                await self._uc.create_rule(conn, caller, group_id, schedule, template, rule.paused)
            )

        return await self._once("CreateRecurringExpense", request, expense_pb2.RecurringExpense, work)

    async def GetRecurringExpense(
        self, request: expense_pb2.GetRecurringExpenseRequest, context: Any
    ) -> expense_pb2.RecurringExpense:
        group_id, rule_id = _parts(request.name, "recurringExpenses", "name")
        return codec.rule_pb(await self._uc.get_rule(require_caller().user_id, group_id, rule_id))

    async def ListRecurringExpenses(
        self, request: expense_pb2.ListRecurringExpensesRequest, context: Any
    ) -> expense_pb2.ListRecurringExpensesResponse:
        caller = require_caller().user_id
        group_id = _group_id(request.parent)
        query = {"group": group_id, "caller": caller}
        size = pagination.page_size(request.page_size)
        cursor = pagination.decode(request.page_token, query)
        found = await self._uc.rules(caller, group_id, after=cursor.key if cursor else None, limit=size + 1)
        page = found[:size]
        token = ""
        if len(found) > size:
            last = page[-1]
            key = last.next_occurrence.isoformat() if last.next_occurrence else "9999-12-31"
            token = pagination.encode([key, last.id], query)
        return expense_pb2.ListRecurringExpensesResponse(
            recurring_expenses=[codec.rule_pb(r) for r in page], next_page_token=token
        )

    async def UpdateRecurringExpense(
        self, request: expense_pb2.UpdateRecurringExpenseRequest, context: Any
    ) -> expense_pb2.RecurringExpense:
        caller = require_caller().user_id
        rule = request.recurring_expense
        group_id, rule_id = _parts(rule.name, "recurringExpenses", "recurring_expense.name")
        paths = list(request.update_mask.paths) or [
            f for f in codec.RULE_FIELDS if f != "end_date" and _rule_field_set(rule, f)
        ]
        current = await self._uc.get_rule(caller, group_id, rule_id)
        schedule = current.schedule
        changes: dict[str, Any] = {}
        for path in paths:
            field = f"recurring_expense.{path}"
            if path == "frequency":
                schedule = replace(schedule, frequency=codec.frequency(rule.frequency, field))
            elif path == "interval":
                schedule = replace(schedule, interval=codec.interval(rule.interval, field))
            elif path == "end_date":
                end = codec.parse_date(rule.end_date, field) if rule.HasField("end_date") else None
                schedule = replace(schedule, end_date=end)
            elif path == "template":
                changes["template"] = codec.draft(
                    rule.template, "recurring_expense.template", caller, need_date=False
                )
            elif path == "paused":
                changes["paused"] = rule.paused
            else:
                raise InvalidArgument(
                    "update_mask", f"cannot update {path!r}; allowed: {', '.join(codec.RULE_FIELDS)}"
                )
        if schedule != current.schedule:
            changes["schedule"] = schedule
        updated = await self._uc.update_rule(caller, group_id, rule_id, RuleChanges(**changes), rule.etag)
        return codec.rule_pb(updated)

    async def DeleteRecurringExpense(
        self, request: expense_pb2.DeleteRecurringExpenseRequest, context: Any
    ) -> empty_pb2.Empty:
        group_id, rule_id = _parts(request.name, "recurringExpenses", "name")
        await self._uc.delete_rule(require_caller().user_id, group_id, rule_id, request.etag)
        return empty_pb2.Empty()

    # --- later issues ----------------------------------------------------------------------

    async def CreateReceiptUpload(self, request: Any, context: Any) -> Any:
        raise NotBuiltYet("receipts are not available yet")

    async def AttachReceipt(self, request: Any, context: Any) -> Any:
        raise NotBuiltYet("receipts are not available yet")

    async def GetReceiptUrl(self, request: Any, context: Any) -> Any:
        raise NotBuiltYet("receipts are not available yet")

    async def ExportGroupCsv(self, request: Any, context: Any) -> Any:
        raise NotBuiltYet("exports are not available yet")

    async def ExportGroupPdf(self, request: Any, context: Any) -> Any:
        raise NotBuiltYet("exports are not available yet")

    async def GetExport(self, request: Any, context: Any) -> Any:
        raise NotBuiltYet("exports are not available yet")

    async def ImportSplitwiseCsv(self, request: Any, context: Any) -> Any:
        raise NotBuiltYet("importing from Splitwise is not available yet")

    async def SummarizeSpending(self, request: Any, context: Any) -> Any:
        raise NotBuiltYet("spending summaries are not available yet")

    async def GenerateRecurringOccurrences(self, request: Any, context: Any) -> Any:
        raise NotBuiltYet("recurring expenses are stored and shown; the job that creates them comes later")


def _rule_field_set(rule: expense_pb2.RecurringExpense, path: str) -> bool:
    if path == "template":
        return rule.HasField("template")
    return bool(getattr(rule, path))
