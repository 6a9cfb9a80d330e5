"""ExpenseService over gRPC: proto ⇄ use cases. Idempotent creates keep their proto response."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf import empty_pb2
from google.protobuf.message import Message
from hisaab.common.v1 import money_pb2
from hisaab.expense.v1 import expense_pb2, expense_pb2_grpc

from libs import change_feed, clock, idempotency, money_format, names, pagination, validation, wire
from libs.auth.caller import require_caller, require_internal
from libs.db.unit_of_work import UnitOfWork
from libs.errors import InvalidArgument
from services.expense import codec, summaries
from services.expense.domain import (
    MAX_COMMENT,
    ORDERS,
    Activity,
    ChangeType,
    Comment,
    Expense,
    ExpenseFilter,
    order_key,
)
from services.expense.files.report_data import ExportRow
from services.expense.files.usecases import FileUseCases
from services.expense.ports import ExpenseRepositories
from services.expense.recurring_job import RecurringJob
from services.expense.scan import codec as scan_codec
from services.expense.scan.usecases import ScanUseCases
from services.expense.usecases import ExpenseUseCases, RuleChanges

M = TypeVar("M", bound=Message)

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
    "settled": expense_pb2.Activity.SETTLED,
    "member_invited": expense_pb2.Activity.MEMBER_INVITED,
    "member_joined": expense_pb2.Activity.MEMBER_JOINED,
    "member_left": expense_pb2.Activity.MEMBER_LEFT,
    "member_removed": expense_pb2.Activity.MEMBER_REMOVED,
    "group_updated": expense_pb2.Activity.GROUP_UPDATED,
}


# Creates whose work writes rows and nothing else.
_ROWS_ONLY = frozenset({"CreateExpense", "CreateComment", "CreateRecurringExpense"})


def _comment_pb(comment: Comment, display: dict[str, str]) -> expense_pb2.Comment:
    return expense_pb2.Comment(
        name=comment.name,
        author=f"users/{comment.author}",
        author_display_name=display.get(comment.author, ""),
        text=comment.text,
        create_time=wire.timestamp(comment.created_at),
    )


def _activity_pb(
    activity: Activity, display: dict[str, str], caller: str, locale: str = ""
) -> expense_pb2.Activity:
    actor = display.get(activity.actor, "")  # empty: the summary says "Someone" in the reader's language
    proto = expense_pb2.Activity(
        name=f"groups/{activity.group_id}/activities/{activity.id}",
        actor=f"users/{activity.actor}",
        actor_display_name=display.get(activity.actor, ""),
        verb=_VERB.get(activity.verb, expense_pb2.Activity.VERB_UNSPECIFIED),
        subject=activity.subject,
        summary=summaries.summary(
            actor, activity.verb, activity.details, display, actor_id=activity.actor, locale=locale
        ),
        create_time=wire.timestamp(activity.created_at),
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
    def __init__(
        self,
        usecases: ExpenseUseCases,
        uow: UnitOfWork[ExpenseRepositories],
        files: FileUseCases,
        recurring: RecurringJob,
        scans: ScanUseCases,
    ):
        # The unit of work only binds creates to their request_id (libs.idempotency.Once);
        # the use cases open its transactions.
        self._uow = uow
        self._uc = usecases
        self._files = files
        self._recurring = recurring
        self._scans = scans

    def _bound(
        self, scope: str, request: Any, response_type: type[M]
    ) -> idempotency.Once[ExpenseRepositories, M]:
        # Creates that only write rows claim their key with those writes (one round trip
        # fewer); a scan or an export also touches S3 or a queue, so its key goes first.
        return idempotency.Once(
            self._uow, f"expense.{scope}", request, response_type, claim_with_writes=scope in _ROWS_ONLY
        )

    # --- reference data --------------------------------------------------------------------

    async def ListCurrencies(
        self, request: expense_pb2.ListCurrenciesRequest, context: Any
    ) -> expense_pb2.ListCurrenciesResponse:
        locale = request.locale
        if locale:
            validation.locale(locale, "locale")
        return expense_pb2.ListCurrenciesResponse(
            currencies=[
                expense_pb2.Currency(
                    currency_code=c.code, exponent=c.exponent, symbol=c.symbol, display_name=c.display_name
                )
                for c in money_format.currencies(locale)
            ]
        )

    # --- expenses --------------------------------------------------------------------------

    async def CreateExpense(
        self, request: expense_pb2.CreateExpenseRequest, context: Any
    ) -> expense_pb2.Expense:
        caller = require_caller().user_id
        group_id = names.group(request.parent, "parent")
        idempotency.validate_request_id(request.request_id)
        resolved = None
        preset = codec.preset_ref(request.expense, group_id)
        if preset is not None:
            if not request.expense.HasField("total"):
                raise InvalidArgument("expense.total", "is required")
            currency, amount = codec.total(request.expense.total, "expense.total")
            resolved = await self._uc.preset_split(caller, group_id, preset, currency, amount, "expense")
        draft = codec.draft(request.expense, "expense", resolved_split=resolved)
        once = self._bound("CreateExpense", request, expense_pb2.Expense)
        return await self._uc.add(caller, group_id, draft, once, codec.expense_pb)

    async def GetExpense(self, request: expense_pb2.GetExpenseRequest, context: Any) -> expense_pb2.Expense:
        group_id, expense_id = names.in_one_group(request.name, "expenses", "name")
        return codec.expense_pb(await self._uc.get(require_caller().user_id, group_id, expense_id))

    async def ListExpenses(
        self, request: expense_pb2.ListExpensesRequest, context: Any
    ) -> expense_pb2.ListExpensesResponse:
        caller = require_caller().user_id
        group_id = names.group(request.parent, "parent")
        order_by = " ".join(request.order_by.split()) or "transaction_date desc"
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
        pager = pagination.Page.of(request, query)
        found = await self._uc.list_expenses(caller, group_id, filters, after=pager.after, limit=pager.limit)
        page, token = pager.cut(found, lambda last: order_key(last, order_by))
        return expense_pb2.ListExpensesResponse(
            expenses=[codec.expense_pb(e) for e in page], next_page_token=token
        )

    async def UpdateExpense(
        self, request: expense_pb2.UpdateExpenseRequest, context: Any
    ) -> expense_pb2.Expense:
        caller = require_caller().user_id
        group_id, expense_id = names.in_one_group(request.expense.name, "expenses", "expense.name")
        updates = codec.updates(request.expense, list(request.update_mask.paths))
        return codec.expense_pb(
            await self._uc.update(caller, group_id, expense_id, updates, request.expense.etag)
        )

    async def DeleteExpense(
        self, request: expense_pb2.DeleteExpenseRequest, context: Any
    ) -> expense_pb2.Expense:
        group_id, expense_id = names.in_one_group(request.name, "expenses", "name")
        return codec.expense_pb(
            await self._uc.set_deleted(require_caller().user_id, group_id, expense_id, True, request.etag)
        )

    async def UndeleteExpense(
        self, request: expense_pb2.UndeleteExpenseRequest, context: Any
    ) -> expense_pb2.Expense:
        group_id, expense_id = names.in_one_group(request.name, "expenses", "name")
        return codec.expense_pb(
            await self._uc.set_deleted(require_caller().user_id, group_id, expense_id, False, request.etag)
        )

    async def ListExpenseChanges(
        self, request: expense_pb2.ListExpenseChangesRequest, context: Any
    ) -> expense_pb2.ListExpenseChangesResponse:
        caller = require_caller().user_id
        group_id = names.group(request.parent, "parent", allow_every=True)
        # Cursors are tied to the feed they came from, never to a page size.
        bound = {"feed": group_id, "caller": caller}
        state = change_feed.decode(request.cursor, bound)
        size = change_feed.page_size(request.page_size)
        groups = await self._uc.feed_groups(caller, group_id, resuming=state is not None)
        page = await change_feed.read(state, groups, size, self._uc.changes, lambda row: row.change_key)
        authors = sorted({row.author for row in page.rows if isinstance(row, Comment)})
        display = await self._uc.display_names(authors) if authors else {}
        noticed = wire.timestamp(clock.now())
        revoked = [
            expense_pb2.ExpenseChange(
                change_type=expense_pb2.ExpenseChange.ACCESS_REVOKED,
                removed=f"groups/{g}",
                change_time=noticed,
            )
            for g in page.revoked
        ]
        return expense_pb2.ListExpenseChangesResponse(
            changes=revoked + [self._change(row, display) for row in page.rows],
            next_cursor=change_feed.encode(page.state, bound),
            has_more=page.has_more,
        )

    @staticmethod
    def _change(row: Expense | Comment, display: dict[str, str]) -> expense_pb2.ExpenseChange:
        if isinstance(row, Comment):
            if row.deleted_at is not None:
                return expense_pb2.ExpenseChange(
                    change_type=expense_pb2.ExpenseChange.DELETED,
                    removed=row.name,
                    change_time=wire.timestamp(row.deleted_at),
                )
            return expense_pb2.ExpenseChange(
                change_type=expense_pb2.ExpenseChange.CREATED,
                comment=_comment_pb(row, display),
                change_time=wire.timestamp(row.created_at),
            )
        change = expense_pb2.ExpenseChange(
            change_type=_CHANGE_TYPE[row.last_change],
            change_time=wire.timestamp(row.updated_at),
        )
        if row.deleted:
            change.removed = row.name
        else:
            change.expense.CopyFrom(codec.expense_pb(row))
        return change

    # --- comments --------------------------------------------------------------------------

    async def CreateComment(
        self, request: expense_pb2.CreateCommentRequest, context: Any
    ) -> expense_pb2.Comment:
        caller = require_caller().user_id
        group_id, expense_id = names.in_one_group(request.parent, "expenses", "parent")
        body = validation.text(
            request.comment.text, "comment.text", max_length=MAX_COMMENT, required=True, multiline=True
        )
        idempotency.validate_request_id(request.request_id)
        once = self._bound("CreateComment", request, expense_pb2.Comment)
        return await self._uc.comment(caller, group_id, expense_id, body, once, _comment_pb)

    async def ListComments(
        self, request: expense_pb2.ListCommentsRequest, context: Any
    ) -> expense_pb2.ListCommentsResponse:
        caller = require_caller().user_id
        group_id, expense_id = names.in_one_group(request.parent, "expenses", "parent")
        query = {"expense": request.parent, "caller": caller}
        pager = pagination.Page.of(request, query)
        found, display = await self._uc.comments(
            caller, group_id, expense_id, after=pager.after, limit=pager.limit
        )
        page, token = pager.cut(found, pagination.created_key)
        return expense_pb2.ListCommentsResponse(
            comments=[_comment_pb(c, display) for c in page], next_page_token=token
        )

    async def DeleteComment(self, request: expense_pb2.DeleteCommentRequest, context: Any) -> empty_pb2.Empty:
        group_id, expense_id, comment_id = names.parse(request.name, "groups/{}/expenses/{}/comments/{}")
        group_id = names.group(f"groups/{group_id}", "name")
        await self._uc.delete_comment(require_caller().user_id, group_id, expense_id, comment_id)
        return empty_pb2.Empty()

    # --- activity feed ---------------------------------------------------------------------

    async def ListActivities(
        self, request: expense_pb2.ListActivitiesRequest, context: Any
    ) -> expense_pb2.ListActivitiesResponse:
        caller = require_caller().user_id
        group_id = names.group(request.parent, "parent", allow_every=True)
        query = {"feed": group_id, "caller": caller}
        pager = pagination.Page.of(request, query)
        groups = await self._uc.group_ids(caller, group_id)
        found, display, locale = await self._uc.activities(
            caller, groups, before=int(pager.after_one) if pager.after else None, limit=pager.limit
        )
        page, token = pager.cut(found, lambda last: [last[0]])
        return expense_pb2.ListActivitiesResponse(
            activities=[_activity_pb(a, display, caller, locale) for _, a in page], next_page_token=token
        )

    # --- recurring rules -------------------------------------------------------------------

    async def CreateRecurringExpense(
        self, request: expense_pb2.CreateRecurringExpenseRequest, context: Any
    ) -> expense_pb2.RecurringExpense:
        caller = require_caller().user_id
        group_id = names.group(request.parent, "parent")
        rule = request.recurring_expense
        schedule = codec.schedule(rule)
        if not rule.HasField("template"):
            raise InvalidArgument("recurring_expense.template", "is required")
        template = codec.draft(rule.template, "recurring_expense.template", need_date=False)
        idempotency.validate_request_id(request.request_id)
        once = self._bound("CreateRecurringExpense", request, expense_pb2.RecurringExpense)
        return await self._uc.add_rule(caller, group_id, schedule, template, rule.paused, once, codec.rule_pb)

    async def GetRecurringExpense(
        self, request: expense_pb2.GetRecurringExpenseRequest, context: Any
    ) -> expense_pb2.RecurringExpense:
        group_id, rule_id = names.in_one_group(request.name, "recurringExpenses", "name")
        return codec.rule_pb(await self._uc.get_rule(require_caller().user_id, group_id, rule_id))

    async def ListRecurringExpenses(
        self, request: expense_pb2.ListRecurringExpensesRequest, context: Any
    ) -> expense_pb2.ListRecurringExpensesResponse:
        caller = require_caller().user_id
        group_id = names.group(request.parent, "parent")
        query = {"group": group_id, "caller": caller}
        pager = pagination.Page.of(request, query)
        found = await self._uc.rules(caller, group_id, after=pager.after, limit=pager.limit)
        page, token = pager.cut(
            found,
            lambda last: [
                last.next_occurrence.isoformat() if last.next_occurrence else "9999-12-31",
                last.id,
            ],
        )
        return expense_pb2.ListRecurringExpensesResponse(
            recurring_expenses=[codec.rule_pb(r) for r in page], next_page_token=token
        )

    async def UpdateRecurringExpense(
        self, request: expense_pb2.UpdateRecurringExpenseRequest, context: Any
    ) -> expense_pb2.RecurringExpense:
        caller = require_caller().user_id
        rule = request.recurring_expense
        group_id, rule_id = names.in_one_group(rule.name, "recurringExpenses", "recurring_expense.name")
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
                    rule.template, "recurring_expense.template", need_date=False
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
        group_id, rule_id = names.in_one_group(request.name, "recurringExpenses", "name")
        await self._uc.delete_rule(require_caller().user_id, group_id, rule_id, request.etag)
        return empty_pb2.Empty()

    # --- later issues ----------------------------------------------------------------------

    async def CreateReceiptUpload(
        self, request: expense_pb2.CreateReceiptUploadRequest, context: Any
    ) -> expense_pb2.ReceiptUpload:
        caller = require_caller().user_id
        group_id, expense_id = names.in_one_group(request.expense, "expenses", "expense")
        upload = await self._files.receipt_upload(
            caller, group_id, expense_id, request.content_type, request.size_bytes
        )
        return expense_pb2.ReceiptUpload(
            url=upload.url,
            fields=upload.fields,
            key=upload.key,
            expire_time=wire.timestamp(upload.expires_at),
        )

    async def AttachReceipt(
        self, request: expense_pb2.AttachReceiptRequest, context: Any
    ) -> expense_pb2.Expense:
        caller = require_caller().user_id
        group_id, expense_id = names.in_one_group(request.expense, "expenses", "expense")
        if not request.key:
            raise InvalidArgument("key", "is required")
        return codec.expense_pb(await self._files.attach_receipt(caller, group_id, expense_id, request.key))

    async def GetReceiptUrl(
        self, request: expense_pb2.GetReceiptUrlRequest, context: Any
    ) -> expense_pb2.ReceiptUrl:
        caller = require_caller().user_id
        group_id, expense_id = names.in_one_group(request.expense, "expenses", "expense")
        url, content_type, expires = await self._files.receipt_url(caller, group_id, expense_id)
        return expense_pb2.ReceiptUrl(url=url, content_type=content_type, expire_time=wire.timestamp(expires))

    # --- receipt scans ---------------------------------------------------------------------

    async def CreateScanUpload(
        self, request: expense_pb2.CreateScanUploadRequest, context: Any
    ) -> expense_pb2.ReceiptUpload:
        caller = require_caller().user_id
        group_id = names.group(request.parent, "parent")
        idempotency.validate_request_id(request.request_id)
        await self._scans.require_member(caller, group_id)
        upload = self._scans.upload(
            caller, group_id, request.content_type, request.size_bytes, request.request_id
        )
        return expense_pb2.ReceiptUpload(
            url=upload.url,
            fields=upload.fields,
            key=upload.key,
            expire_time=wire.timestamp(upload.expires_at),
        )

    async def ScanReceipt(
        self, request: expense_pb2.ScanReceiptRequest, context: Any
    ) -> expense_pb2.ReceiptScan:
        caller = require_caller().user_id
        group_id = names.group(request.parent, "parent")
        idempotency.validate_request_id(request.request_id)
        hint = validation.currency_code(request.currency_code) if request.currency_code else ""
        expense_id = ""
        if request.WhichOneof("source") == "expense":
            expense_group, expense_id = names.in_group(request.expense, "expenses", "expense")
            if expense_group != group_id:
                raise InvalidArgument("expense", "must be an expense of this group")
        once = self._bound("ScanReceipt", request, expense_pb2.ReceiptScan)
        return await self._scans.scan(
            caller,
            group_id,
            key=request.key,
            expense_id=expense_id,
            currency_hint=hint,
            once=once,
            present=scan_codec.scan_pb,
        )

    async def GetReceiptScan(
        self, request: expense_pb2.GetReceiptScanRequest, context: Any
    ) -> expense_pb2.ReceiptScan:
        group_id, scan_id = names.in_one_group(request.name, "receiptScans", "name")
        return scan_codec.scan_pb(await self._scans.get(require_caller().user_id, group_id, scan_id))

    async def CreateExpenseFromScan(
        self, request: expense_pb2.CreateExpenseFromScanRequest, context: Any
    ) -> expense_pb2.Expense:
        caller = require_caller().user_id
        group_id, scan_id = names.in_one_group(request.scan, "receiptScans", "scan")
        idempotency.validate_request_id(request.request_id)
        choices = scan_codec.choices(request)
        once = self._bound("CreateExpenseFromScan", request, expense_pb2.Expense)
        return await self._scans.create_expense_from_scan(
            caller, group_id, scan_id, choices, once, codec.expense_pb
        )

    async def _export(
        self, scope: str, fmt: str, request: expense_pb2.ExportGroupRequest
    ) -> expense_pb2.Export:
        caller = require_caller().user_id
        group_id = names.group(request.group, "group")
        start = codec.parse_date(request.start_date, "start_date") if request.HasField("start_date") else None
        end = codec.parse_date(request.end_date, "end_date") if request.HasField("end_date") else None
        idempotency.validate_request_id(request.request_id)
        once = self._bound(scope, request, expense_pb2.Export)
        return await self._files.request_export(
            caller, group_id, fmt, start, end, once, lambda row: _export_pb(row, "", None)
        )

    async def ExportGroupCsv(
        self, request: expense_pb2.ExportGroupRequest, context: Any
    ) -> expense_pb2.Export:
        return await self._export("ExportGroupCsv", "csv", request)

    async def ExportGroupPdf(
        self, request: expense_pb2.ExportGroupRequest, context: Any
    ) -> expense_pb2.Export:
        return await self._export("ExportGroupPdf", "pdf", request)

    async def GetExport(self, request: expense_pb2.GetExportRequest, context: Any) -> expense_pb2.Export:
        group_id, export_id = names.in_one_group(request.name, "exports", "name")
        row, url, expires = await self._files.export(require_caller().user_id, group_id, export_id)
        return _export_pb(row, url, expires)

    async def ImportSplitwiseCsv(
        self, request: expense_pb2.ImportSplitwiseCsvRequest, context: Any
    ) -> expense_pb2.ImportReport:
        caller = require_caller().user_id
        group_id = names.group(request.group, "group")
        mapping = {
            column: names.one(user, "users", f"member_mapping[{column}]")
            for column, user in request.member_mapping.items()
        }
        result = await self._files.import_splitwise(
            caller, group_id, request.csv_content, mapping, validate_only=request.validate_only
        )
        return expense_pb2.ImportReport(
            created_expense_count=result.created_expenses,
            created_settlement_count=result.created_settlements,
            skipped_rows=[
                expense_pb2.ImportReport.SkippedRow(line=ln, reason=why) for ln, why in result.skipped
            ],
            unmapped_columns=result.unmapped,
            validate_only=request.validate_only,
        )

    async def SummarizeSpending(
        self, request: expense_pb2.SummarizeSpendingRequest, context: Any
    ) -> expense_pb2.SpendingSummary:
        caller = require_caller().user_id
        group_id = names.group(request.group, "group", allow_every=True)
        currency = validation.currency_code(request.currency_code)
        end = codec.parse_date(request.end_date, "end_date") if request.HasField("end_date") else None
        start = codec.parse_date(request.start_date, "start_date") if request.HasField("start_date") else None
        summary = await self._uc.summarize_spending(
            caller, group_id, currency, start, end, caller_share_only=request.caller_share_only
        )

        def money(amount: int) -> money_pb2.Money:
            return money_pb2.Money(currency_code=currency, amount_minor=amount)

        return expense_pb2.SpendingSummary(
            total=money(summary.total_minor),
            categories=[
                expense_pb2.SpendingSummary.CategoryTotal(
                    category=codec.CATEGORY_PB[c], total=money(t), expense_count=n
                )
                for c, t, n in summary.categories
            ],
            months=[
                expense_pb2.SpendingSummary.MonthTotal(month=wire.date_pb(m), total=money(t))
                for m, t in summary.months
            ],
            members=[
                expense_pb2.SpendingSummary.MemberTotal(user=f"users/{u}", paid=money(p), owed=money(o))
                for u, p, o in summary.members
            ],
        )

    async def GenerateRecurringOccurrences(
        self, request: expense_pb2.GenerateRecurringOccurrencesRequest, context: Any
    ) -> expense_pb2.GenerateRecurringOccurrencesResponse:
        require_internal()
        if not request.HasField("run_date"):
            raise InvalidArgument("run_date", "is required")
        group_id = names.group(request.group, "group") if request.group else None
        result = await self._recurring.run(codec.parse_date(request.run_date, "run_date"), group_id)
        return expense_pb2.GenerateRecurringOccurrencesResponse(
            rules_processed=result.rules_processed,
            expenses_created=result.expenses_created,
            failed_rules=result.failed_rules,
            rules=[
                expense_pb2.RecurringRuleRun(
                    rule=r.rule, expenses_created=r.expenses_created, failed=r.failed
                )
                for r in result.rules
            ],
        )


def _rule_field_set(rule: expense_pb2.RecurringExpense, path: str) -> bool:
    if path == "template":
        return rule.HasField("template")
    return bool(getattr(rule, path))


_EXPORT_FORMAT = {"csv": expense_pb2.Export.CSV, "pdf": expense_pb2.Export.PDF}
_EXPORT_STATE = {
    "pending": expense_pb2.Export.PENDING,
    "running": expense_pb2.Export.RUNNING,
    "succeeded": expense_pb2.Export.SUCCEEDED,
    "failed": expense_pb2.Export.FAILED,
}


def _export_pb(row: ExportRow, url: str, expires: datetime | None) -> expense_pb2.Export:
    proto = expense_pb2.Export(
        name=row.name,
        format=_EXPORT_FORMAT[row.format],
        state=_EXPORT_STATE[row.state],
        download_url=url,
        error_message=row.error if row.state == "failed" else "",
        creator=f"users/{row.creator}",
        create_time=wire.timestamp(row.created_at),
    )
    if row.start_date:
        proto.start_date.CopyFrom(wire.date_pb(row.start_date))
    if row.end_date:
        proto.end_date.CopyFrom(wire.date_pb(row.end_date))
    if expires:
        proto.expire_time.CopyFrom(wire.timestamp(expires))
    if row.completed_at:
        proto.complete_time.CopyFrom(wire.timestamp(row.completed_at))
    return proto
