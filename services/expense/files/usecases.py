"""Receipts, exports and the Splitwise import: membership, transactions, outbox events.

Exports are queued in PostgreSQL (``expense.exports``) and built by a background
loop in every expense-service process; a row is leased with ``FOR UPDATE SKIP
LOCKED`` so replicas share the work and a crashed builder's export is retried
when its lease runs out. The finished file goes to S3 and an ``export.ready``
event tells notification-service to announce it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hisaab.events.v1 import events_pb2 as ev

from libs import clock
from libs.db.unit_of_work import UnitOfWork
from libs.errors import FailedPrecondition, InvalidArgument, NotFound
from libs.idempotency import M, Once
from libs.ledger.postings import nets
from libs.ledger.splits import SplitMode
from libs.validation import is_uuid
from services.expense.domain import Category, Draft, Expense, SplitSpec, expense_name
from services.expense.files import csv_export, pdf_export, receipts, splitwise_import
from services.expense.files.report_data import MAX_EXPORT_ATTEMPTS, ExportData, ExportLine, ExportRow
from services.expense.ports import ExpenseRepositories, GroupInfo, Groups, Settlements
from services.expense.usecases import ExpenseUseCases, Prepared

log = logging.getLogger("hisaab.expense.files")

EXPORT_URL_TTL = timedelta(minutes=15)
MAX_IMPORT_BYTES = 5 * 1024 * 1024
IMPORT_NAMESPACE = uuid.UUID("0b6f3d1e-52c4-4a47-8d8e-0e0f6a1c9b27")
RENDERERS: dict[str, Callable[[ExportData], bytes]] = {"csv": csv_export.render, "pdf": pdf_export.render}
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


@dataclass
class ImportResult:
    created_expenses: int = 0
    created_settlements: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


class FileUseCases:
    def __init__(
        self,
        uow: UnitOfWork[ExpenseRepositories],
        expenses: ExpenseUseCases,
        groups: Groups,
        group_info: GroupInfo,
        settlements: Settlements,
        s3: Any,
        *,
        receipts_bucket: str,
        exports_bucket: str,
    ) -> None:
        self._uow = uow
        self._expenses = expenses
        self._groups = groups
        self._group_info = group_info
        self._settlements = settlements
        self._s3 = s3
        self._receipts = receipts.ReceiptStore(s3, receipts_bucket)
        self._exports_bucket = exports_bucket
        self._wake = asyncio.Event()

    # --- receipts --------------------------------------------------------------------------

    async def receipt_upload(
        self, caller: str, group_id: str, expense_id: str, content_type: str, size: int
    ) -> receipts.Upload:
        await self._expenses.get(caller, group_id, expense_id)  # membership and existence
        return self._receipts.presign_upload(group_id, expense_id, content_type, size)

    async def attach_receipt(self, caller: str, group_id: str, expense_id: str, key: str) -> Expense:
        await self._expenses.get(caller, group_id, expense_id)
        stored = await asyncio.to_thread(self._receipts.confirm, group_id, expense_id, key)
        async with self._uow.transaction() as repos:
            await repos.set_receipt(expense_id, stored.key, stored.content_type, stored.size_bytes, caller)
            await repos.outbox.record(
                ev.ReceiptAttached(group=group_id, expense=expense_id),
                expense_name(group_id, expense_id),
                actor=caller,
            )
            # Read back on the writer: a replica may not have the receipt yet.
            return await self._expenses.load(repos, group_id, expense_id)

    async def receipt_url(self, caller: str, group_id: str, expense_id: str) -> tuple[str, str, datetime]:
        expense = await self._expenses.get(caller, group_id, expense_id)
        if expense.receipt is None:
            raise NotFound("this expense has no receipt")
        url, expires = self._receipts.presign_download(expense.receipt.key)
        return url, expense.receipt.content_type, expires

    # --- exports ---------------------------------------------------------------------------

    async def request_export(
        self,
        caller: str,
        group_id: str,
        fmt: str,
        start: date | None,
        end: date | None,
        once: Once[ExpenseRepositories, M],
        present: Callable[[ExportRow], M],
    ) -> M:
        """ExportGroupCsv/Pdf: membership and the group's names (group-service) are read
        before the transaction; the queued export and its event are written in it."""
        if start and end and start > end:
            raise InvalidArgument("end_date", "must not be before start_date")
        await self._expenses.require_member(caller, group_id)
        group_name, members = await self._group_info.snapshot(group_id)
        snapshot = {"group": group_name, "members": members}

        async def work(repos: ExpenseRepositories) -> M:
            row = await repos.insert_export(str(uuid.uuid4()), group_id, fmt, start, end, snapshot, caller)
            await repos.outbox.record(
                ev.ExportRequested(group=group_id, export=row.id, format=fmt), row.name, actor=caller
            )
            return present(row)

        response = await once(work)
        self._wake.set()
        return response

    async def export(
        self, caller: str, group_id: str, export_id: str
    ) -> tuple[ExportRow, str, datetime | None]:
        await self._expenses.require_member(caller, group_id)
        if not is_uuid(export_id):
            raise NotFound("export not found")
        async with self._uow.read() as repos:
            row = await repos.get_export(group_id, export_id)
        if row is None:
            raise NotFound("export not found")
        if row.state != "succeeded" or not row.object_key:
            return row, "", None
        url, expires = self._download(row.object_key)
        return row, url, expires

    def _download(self, key: str) -> tuple[str, datetime]:
        return receipts.presign_get(self._s3, self._exports_bucket, key, EXPORT_URL_TTL, datetime.now(UTC))

    async def build_exports_forever(self, idle_seconds: float = 1.0) -> None:
        """The background builder: one export at a time, woken by new requests or a poll."""
        while True:
            try:
                built = await self.build_one()
            except Exception:  # a broken export must not stop the loop; it is retried or failed
                log.exception("export builder error")
                built = False
            if not built:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), idle_seconds)

    async def build_one(self) -> bool:
        async with self._uow.transaction() as repos:
            row = await repos.claim_export()
        if row is None:
            return False
        try:
            data = await self._export_data(row)
            body = RENDERERS[row.format](data)
            key = f"exports/{row.group_id}/{row.id}.{row.format}"
            await asyncio.to_thread(
                self._s3.put_object,
                Bucket=self._exports_bucket,
                Key=key,
                Body=body,
                ContentType=CONTENT_TYPES[row.format],
            )
        except Exception as err:
            log.exception("export failed", extra={"export": row.name})
            async with self._uow.transaction() as repos:
                await repos.fail_export(row.id, row.attempts, "the export could not be built; try again")
            if row.attempts >= MAX_EXPORT_ATTEMPTS:
                raise FailedPrecondition("export failed") from err
            return True
        url, _ = self._download(key)
        async with self._uow.transaction() as repos:
            await repos.finish_export(row.id, key)
            ready = ev.ExportReady(
                group=row.group_id, export=row.id, format=row.format, user=row.creator, url=url
            )
            await repos.outbox.record(ready, row.name)
        return True

    async def _export_data(self, row: ExportRow) -> ExportData:
        names: dict[str, str] = dict(row.snapshot.get("members", {}))

        def name(user_id: str) -> str:
            return names.get(user_id) or f"user {user_id[:8]}"

        async with self._uow.read() as repos:
            expenses = await repos.expense_lines(row.group_id, row.start_date, row.end_date)
            settlements = await repos.active_entries(row.group_id, "settlement", row.start_date, row.end_date)
            balances = await repos.ledger.group_balances(row.group_id)
        lines = [
            ExportLine(
                when=r.expense_date,
                kind="expense",
                description=r.description,
                category=r.category.upper(),
                currency=r.currency,
                total_minor=r.total_minor,
                paid_by="; ".join(name(u) for u, p in sorted(r.postings.items()) if p.paid_minor),
                nets={name(u): n for u, n in nets(r.postings).items()},
            )
            for r in expenses
        ]
        for s in settlements:
            payer = next((u for u, p in s.postings.items() if p.paid_minor), "")
            payee = next((u for u, p in s.postings.items() if p.owed_minor), "")
            lines.append(
                ExportLine(
                    when=s.created_at.date(),
                    kind="settlement",
                    description=f"{name(payer)} paid {name(payee)}",
                    category="",
                    currency=s.currency,
                    total_minor=s.total_minor,
                    paid_by=name(payer),
                    nets={name(u): n for u, n in nets(s.postings).items()},
                )
            )
        lines.sort(key=lambda line: (line.when, line.kind))
        people = set(names) | {u for cur in balances.values() for u in cur}
        return ExportData(
            group_name=str(row.snapshot.get("group", "")),
            members=sorted({name(u) for u in people}),
            lines=lines,
            balances={cur: {name(u): v for u, v in per.items()} for cur, per in balances.items()},
            generated_on=clock.business_today(),
        )

    # --- Splitwise import ------------------------------------------------------------------

    async def import_splitwise(
        self, caller: str, group_id: str, text: str, mapping: dict[str, str], *, validate_only: bool
    ) -> ImportResult:
        if len(text.encode()) > MAX_IMPORT_BYTES:
            raise InvalidArgument("csv_content", "must be at most 5 MB")
        try:
            parsed = splitwise_import.parse(text)
        except splitwise_import.UnreadableFile as err:
            raise InvalidArgument("csv_content", str(err)) from None
        await self._expenses.require_member(caller, group_id)
        result = ImportResult(skipped=list(parsed.skipped))
        result.unmapped = [p for p in parsed.people if p not in mapping]
        if result.unmapped:
            return result
        users = {column: mapping[column] for column in parsed.people}
        found = await self._groups.members_among(group_id, sorted(set(users.values())))
        for column, user in users.items():
            if found is None or user not in found:
                raise InvalidArgument(f"member_mapping[{column}]", "is not a member of the group")
        async with self._uow.read() as repos:
            done = await repos.imported(group_id, [r.row_id for r in parsed.rows])
        for row in parsed.rows:
            if row.row_id in done:
                result.skipped.append((row.line, "already imported"))
                continue
            if row.kind == "settlement":
                await self._import_settlement(caller, group_id, row, users, validate_only, result)
            else:
                await self._import_expense(caller, group_id, row, users, validate_only, result)
        result.skipped.sort()
        return result

    async def _import_expense(
        self,
        caller: str,
        group_id: str,
        row: splitwise_import.ImportRow,
        users: dict[str, str],
        validate_only: bool,
        result: ImportResult,
    ) -> None:
        postings = {users[column]: p for column, p in row.postings.items()}
        draft = Draft(
            description=row.description,
            category=Category[row.category],
            transaction_date=row.when,
            note="Imported from Splitwise",
            currency=row.currency,
            total_minor=row.total_minor,
            payers=tuple((u, p.paid_minor) for u, p in sorted(postings.items()) if p.paid_minor),
            split=SplitSpec(
                mode=SplitMode.EXACT, entries=tuple((u, p.owed_minor) for u, p in sorted(postings.items()))
            ),
        )
        expense_id = str(uuid.uuid5(IMPORT_NAMESPACE, f"{group_id}/{row.row_id}"))
        if validate_only:
            result.created_expenses += 1
            return
        async with self._uow.transaction() as repos:
            if not await repos.mark_imported(group_id, row.row_id, "expense", expense_id):
                result.skipped.append((row.line, "already imported"))
                return
            await self._expenses.create(repos, caller, group_id, Prepared(expense_id, draft, postings))
        result.created_expenses += 1

    async def _import_settlement(
        self,
        caller: str,
        group_id: str,
        row: splitwise_import.ImportRow,
        users: dict[str, str],
        validate_only: bool,
        result: ImportResult,
    ) -> None:
        payer = next(users[c] for c, p in row.postings.items() if p.paid_minor)
        payee = next(users[c] for c, p in row.postings.items() if p.owed_minor)
        if payer == payee:
            result.skipped.append((row.line, "a payment from a person to themselves"))
            return
        if validate_only:
            result.created_settlements += 1
            return
        name = await self._settlements.record(
            group_id,
            payer=payer,
            payee=payee,
            currency=row.currency,
            amount_minor=row.total_minor,
            when=row.when,
            note=row.description,
            request_id=str(uuid.uuid5(IMPORT_NAMESPACE, f"{group_id}/{row.row_id}")),
        )
        async with self._uow.transaction() as repos:
            await repos.mark_imported(group_id, row.row_id, "settlement", name)
        result.created_settlements += 1
