"""Composition root of expense-service."""

from __future__ import annotations

from hisaab.expense.v1 import expense_pb2_grpc

from libs import settings as settings_mod
from libs.db.database import Database
from libs.rpc.peers import channel
from libs.server import ServiceApp
from services.expense.peers import GroupDirectory, UserDirectory
from services.expense.servicer import ExpenseServicer
from services.expense.usecases import ExpenseUseCases


async def build() -> ServiceApp:
    settings = settings_mod.load("expense")
    db = Database(settings.database_url, settings.database_reader_url, application_name="hisaab-expense")
    group_channel = channel(settings.peer("group"), default_timeout=settings.peer_timeout_seconds)
    auth_channel = channel(settings.peer("auth"), default_timeout=settings.peer_timeout_seconds)
    usecases = ExpenseUseCases(db, GroupDirectory(group_channel), UserDirectory(auth_channel))
    servicer = ExpenseServicer(usecases, db)

    async def close_channels() -> None:
        await group_channel.close(None)
        await auth_channel.close(None)

    return ServiceApp(
        settings=settings,
        register=lambda server: expense_pb2_grpc.add_ExpenseServiceServicer_to_server(servicer, server),  # type: ignore[no-untyped-call]
        on_stop=[db.close, close_channels],
    )
