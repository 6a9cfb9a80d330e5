"""Composition root of notification-service (the gRPC server and the queue worker share it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import grpc
from hisaab.notification.v1 import notification_pb2_grpc

from libs import aws
from libs import settings as settings_mod
from libs.clients.features.install import gate_interceptor
from libs.clients.names import NameBook
from libs.clients.users import UserDirectory
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.display_names import labelled
from libs.jobs.analytics import analytics_job
from libs.rpc.peers import identity_of, peer_channel
from libs.server import ServiceApp
from libs.settings import Settings
from services.notification.jobs import external_jobs
from services.notification.peers import AuthDirectory, SettlementBalances
from services.notification.repository import SqlNotificationRepositories
from services.notification.servicer import NotificationServicer
from services.notification.usecases import NotificationUseCases


@dataclass
class Parts:
    settings: Settings
    db: Database
    usecases: NotificationUseCases
    names: NameBook
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    async def close(self) -> None:
        for ch in self.channels:
            await ch.close(None)
        await self.db.close()


def assemble(*, pool_size: int = 10, name: str = "hisaab-notification") -> Parts:
    settings = settings_mod.load("notification")
    db = Database(
        settings.database_url, settings.database_reader_url, pool_size=pool_size, application_name=name
    )
    identity = identity_of(settings)
    auth, settlement, expense, pricing = (
        peer_channel(settings, p) for p in ("auth", "settlement", "expense", "pricing")
    )
    jobs: dict[str, Callable[[datetime], Awaitable[int]]] = external_jobs(
        expense, pricing, settlement, identity
    )
    resources = aws.Resources.from_env()
    if resources.analytics_bucket:
        jobs["analytics_export"] = analytics_job(db, aws.client("s3"), resources.analytics_bucket)
    usecases = NotificationUseCases(
        SqlUnitOfWork(db, SqlNotificationRepositories),
        AuthDirectory(auth, identity),
        SettlementBalances(settlement, identity),
        external_jobs=jobs,
    )
    return Parts(
        settings, db, usecases, NameBook(None, UserDirectory(auth)), [auth, settlement, expense, pricing]
    )


async def build() -> ServiceApp:
    parts = assemble()
    servicer = labelled(
        NotificationServicer(parts.usecases), parts.names, parts.settings.service.grpc_service
    )
    return ServiceApp(
        gate=gate_interceptor,
        settings=parts.settings,
        register=lambda server: notification_pb2_grpc.add_NotificationServiceServicer_to_server(
            servicer, server
        ),
        on_stop=[parts.close],
    )
