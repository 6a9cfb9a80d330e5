"""Composition root of expense-service."""

from __future__ import annotations

import asyncio
from functools import partial

from hisaab.expense.v1 import expense_pb2_grpc

from libs import aws
from libs import settings as settings_mod
from libs.clients.features.install import gate_interceptor
from libs.clients.names import NameBook
from libs.clients.rosters import RosterCache, keys_for_request
from libs.clients.users import UserDirectory
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.display_names import labelled
from libs.rpc.peers import peer_channel
from libs.server import ServiceApp
from services.expense.files import receipts
from services.expense.files.usecases import FileUseCases
from services.expense.peers import (
    DisplayNames,
    GroupDirectory,
    GroupPresets,
    GroupSnapshot,
    SettlementRecorder,
)
from services.expense.recurring_job import RecurringJob
from services.expense.repository import SqlExpenseRepositories
from services.expense.scan.usecases import ScanUseCases
from services.expense.servicer import ExpenseServicer
from services.expense.usecases import ExpenseUseCases


async def build() -> ServiceApp:
    settings = settings_mod.load("expense")
    db = Database(settings.database_url, settings.database_reader_url, application_name="hisaab-expense")
    group_channel = peer_channel(settings, "group")
    auth_channel = peer_channel(settings, "auth")
    settlement_channel = peer_channel(settings, "settlement")
    rosters = RosterCache.from_url(settings.redis_url)
    groups = GroupDirectory(group_channel, rosters)
    uow = SqlUnitOfWork(db, SqlExpenseRepositories)
    usecases = ExpenseUseCases(uow, groups, DisplayNames(auth_channel), presets=GroupPresets(group_channel))
    resources = aws.Resources.from_env()
    resources.require("receipts_bucket", "exports_bucket")
    files = FileUseCases(
        uow,
        usecases,
        groups,
        GroupSnapshot(group_channel),
        SettlementRecorder(settlement_channel),
        aws.client("s3"),
        receipts_bucket=resources.receipts_bucket,
        exports_bucket=resources.exports_bucket,
    )
    scans = ScanUseCases(uow, usecases, receipts.ReceiptStore(aws.client("s3"), resources.receipts_bucket))
    servicer = labelled(
        ExpenseServicer(usecases, uow, files, RecurringJob(uow, usecases), scans),
        NameBook(rosters, UserDirectory(auth_channel)),
        settings.service.grpc_service,
    )
    # Exports are built in the background by every replica (leased rows in PostgreSQL).
    builder = asyncio.create_task(files.build_exports_forever(), name="export-builder")

    async def close_channels() -> None:
        builder.cancel()
        await group_channel.close(None)
        await auth_channel.close(None)
        await settlement_channel.close(None)

    return ServiceApp(
        # Gated calls name a group: its roster comes with the caller's entitlements.
        gate=partial(gate_interceptor, read_ahead=keys_for_request),
        settings=settings,
        register=lambda server: expense_pb2_grpc.add_ExpenseServiceServicer_to_server(servicer, server),
        on_stop=[db.close, rosters.close, close_channels],
    )
