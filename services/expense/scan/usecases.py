"""Receipt scan use cases on the request path: upload, request, read, and draft → expense.

Requesting a scan writes the scan row and a ``receipt_scan.requested`` outbox event
in one transaction; the relay publishes it and the scan worker's queue (subscribed
to that event type only) hands it to ``runner.ScanRunner``. Nothing here waits for
the engine.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from hisaab.events.v1 import events_pb2 as ev

from libs import clock
from libs.db.unit_of_work import UnitOfWork
from libs.errors import FailedPrecondition, InvalidArgument, NotFound
from libs.idempotency import M, Once
from libs.ledger.splits import SplitMode
from services.expense.domain import Category, Draft, Expense, Item, SplitSpec
from services.expense.files import receipts
from services.expense.ports import ExpenseRepositories
from services.expense.scan.draft import ScanRow
from services.expense.usecases import ExpenseUseCases, Prepared

# Scans are photos: the OCR engine reads JPEG and PNG.
SCAN_TYPES = ("image/jpeg", "image/png")
# Uploads for a scan live beside the group's receipts, under this in place of an expense id.
SCAN_FOLDER = "scans"
SCAN_NOT_FOUND = "receipt scan not found"
UPLOAD_NAMESPACE = uuid.UUID("5f1c2a8e-7d43-4b9a-9e61-2c0d7b4f3a15")


@dataclass(frozen=True)
class Source:
    key: str
    content_type: str
    size_bytes: int
    expense_id: str | None


@dataclass(frozen=True)
class ExpenseChoices:
    """What the app says when it turns a draft into an expense."""

    assignments: tuple[tuple[int, tuple[str, ...]], ...]
    payers: tuple[tuple[str, int], ...]
    description: str
    category: Category
    transaction_date: date | None
    note: str


class ScanUseCases:
    def __init__(
        self,
        uow: UnitOfWork[ExpenseRepositories],
        expenses: ExpenseUseCases,
        store: receipts.ReceiptStore,
        *,
        today: Callable[[], date] = clock.business_today,
    ) -> None:
        self._uow = uow
        self._expenses = expenses
        self._store = store
        self._today = today

    def upload(
        self, caller: str, group_id: str, content_type: str, size_bytes: int, request_id: str
    ) -> receipts.Upload:
        if content_type not in SCAN_TYPES:
            raise InvalidArgument("content_type", f"must be one of {', '.join(SCAN_TYPES)}")
        # A retry names the same object, so an upload already sent is not orphaned.
        object_id = str(uuid.uuid5(UPLOAD_NAMESPACE, f"{caller}/{request_id}")) if request_id else ""
        return self._store.presign_upload(
            group_id, SCAN_FOLDER, content_type, size_bytes, object_id=object_id
        )

    async def require_member(self, caller: str, group_id: str) -> None:
        await self._expenses.require_member(caller, group_id)

    async def source(self, caller: str, group_id: str, *, key: str, expense_id: str) -> Source:
        """The photo a scan request names, after checking it is this group's and really there."""
        if expense_id:
            expense = await self._expenses.get(caller, group_id, expense_id)
            if expense.receipt is None:
                raise FailedPrecondition("this expense has no receipt to scan")
            if expense.receipt.content_type not in SCAN_TYPES:
                raise FailedPrecondition("only JPEG and PNG receipts can be scanned")
            r = expense.receipt
            return Source(r.key, r.content_type, r.size_bytes, expense_id)
        await self._expenses.require_member(caller, group_id)
        if not key:
            raise InvalidArgument("key", "a key from createUpload or an expense is required")
        stored = await asyncio.to_thread(self._store.confirm, group_id, SCAN_FOLDER, key)
        if stored.content_type not in SCAN_TYPES:
            raise FailedPrecondition("only JPEG and PNG photos can be scanned")
        return Source(stored.key, stored.content_type, stored.size_bytes, None)

    async def scan(
        self,
        caller: str,
        group_id: str,
        *,
        key: str,
        expense_id: str,
        currency_hint: str,
        once: Once[ExpenseRepositories, M],
        present: Callable[[ScanRow], M],
    ) -> M:
        """ScanReceipt: the photo is checked (membership, S3) before the transaction; the scan
        row and its ``receipt_scan.requested`` event are written in it."""
        source = await self.source(caller, group_id, key=key, expense_id=expense_id)

        async def work(repos: ExpenseRepositories) -> M:
            return present(await self.request(repos, caller, group_id, source, currency_hint))

        return await once(work)

    async def request(
        self, repos: ExpenseRepositories, caller: str, group_id: str, source: Source, currency_hint: str
    ) -> ScanRow:
        row = await repos.insert_scan(
            str(uuid.uuid4()),
            group_id,
            key=source.key,
            content_type=source.content_type,
            size_bytes=source.size_bytes,
            source_expense_id=source.expense_id,
            currency_hint=currency_hint,
            creator=caller,
        )
        await repos.outbox.record(
            ev.ReceiptScanRequested(group=group_id, scan=row.id), row.name, actor=caller
        )
        return row

    async def get(self, caller: str, group_id: str, scan_id: str) -> ScanRow:
        await self._expenses.require_member(caller, group_id)
        # The writer: the app polls right after the worker finished.
        async with self._uow.transaction() as repos:
            row = await repos.get_scan(group_id, scan_id)
        if row is None:
            raise NotFound(SCAN_NOT_FOUND)
        return row

    async def prepare_expense(
        self, caller: str, group_id: str, scan_id: str, choices: ExpenseChoices
    ) -> tuple[ScanRow, Prepared | None]:
        """The scan and the validated expense; None when an expense was made from it already
        (a retry with the same request_id still gets that expense back)."""
        row = await self.get(caller, group_id, scan_id)
        if row.state != "succeeded" or row.draft is None:
            raise FailedPrecondition("the scan has not succeeded")
        if row.expense_id:
            return row, None
        draft = row.draft
        verdict = draft.reconcile()
        if not verdict.balanced or draft.total is None:
            raise FailedPrecondition(
                "the draft does not add up: items + taxes + tip - discounts = "
                f"{verdict.computed_total_minor}, the receipt's total is {verdict.printed_total_minor}; "
                "add the expense with the corrected amounts instead"
            )
        if draft.tax_minor < 0:
            raise FailedPrecondition("the receipt's taxes and round-off add up to less than zero")
        people = _assignments(choices.assignments, len(draft.items))
        items = tuple(
            Item(item.description[:200] or f"Item {i + 1}", item.amount.amount_minor, people[i])
            for i, item in enumerate(draft.items)
        )
        total = draft.total.amount_minor
        spec = SplitSpec(
            SplitMode.ITEMIZED,
            items=items,
            tax_minor=draft.tax_minor,
            tip_minor=draft.tip_minor,
            discount_minor=draft.discount_minor,
        )
        expense = Draft(
            description=choices.description or draft.merchant[:200] or "Receipt",
            category=choices.category,
            transaction_date=choices.transaction_date or draft.date or self._today(),
            note=choices.note,
            currency=draft.currency,
            total_minor=total,
            payers=choices.payers or ((caller, total),),
            split=spec,
        )
        try:
            return row, await self._expenses.prepare_create(caller, group_id, expense)
        except InvalidArgument as err:
            raise _request_field(err, choices.assignments) from None

    async def create_expense_from_scan(
        self,
        caller: str,
        group_id: str,
        scan_id: str,
        choices: ExpenseChoices,
        once: Once[ExpenseRepositories, M],
        present: Callable[[Expense], M],
    ) -> M:
        """CreateExpenseFromScan: the draft is validated and its people checked before the
        transaction; the expense, the scan's link to it and the receipt are written in it."""
        row, prepared = await self.prepare_expense(caller, group_id, scan_id, choices)

        async def work(repos: ExpenseRepositories) -> M:
            return present(await self.create_expense(repos, caller, group_id, row, prepared))

        return await once(work)

    async def create_expense(
        self, repos: ExpenseRepositories, caller: str, group_id: str, row: ScanRow, prepared: Prepared | None
    ) -> Expense:
        made = f"groups/{group_id}/expenses/{row.expense_id}"
        if prepared is None:
            raise FailedPrecondition(f"an expense was already created from this scan: {made}")
        created = await self._expenses.create(repos, caller, group_id, prepared)
        if not await repos.link_scan_expense(row.id, created.id):
            # Another request made one between this one's read and its write; this one rolls back.
            raise FailedPrecondition("an expense was already created from this scan")
        await repos.set_receipt(created.id, row.source_key, row.content_type, row.size_bytes, caller)
        return await self._expenses.load(repos, group_id, created.id)


_ITEM_FIELD = re.compile(r"^expense\.split\.itemized\.items\[(\d+)\]\.participants(.*)$")


def _request_field(
    err: InvalidArgument, assignments: tuple[tuple[int, tuple[str, ...]], ...]
) -> InvalidArgument:
    """The same error naming this request's field ("assignments[2].participants[0]",
    "payers[1].user") instead of the expense's field it became."""
    field = err.field
    if found := _ITEM_FIELD.match(field):
        item = int(found.group(1))
        index = next((i for i, (n, _) in enumerate(assignments) if n == item), item)
        field = f"assignments[{index}].participants{found.group(2)}"
    elif field.startswith("expense."):
        field = field.removeprefix("expense.")
    return InvalidArgument(field, err.description)


def _assignments(
    assignments: tuple[tuple[int, tuple[str, ...]], ...], count: int
) -> dict[int, tuple[str, ...]]:
    people: dict[int, tuple[str, ...]] = {}
    for i, (item, participants) in enumerate(assignments):
        if not 0 <= item < count:
            raise InvalidArgument(f"assignments[{i}].item", f"must be from 0 to {count - 1}")
        if item in people:
            raise InvalidArgument(f"assignments[{i}].item", "assigns an item twice")
        if not participants:
            raise InvalidArgument(f"assignments[{i}].participants", "at least one member is required")
        people[item] = participants
    missing = [str(i) for i in range(count) if i not in people]
    if missing:
        raise InvalidArgument("assignments", f"items not assigned: {', '.join(missing)}")
    return people
