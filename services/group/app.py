"""Composition root of group-service."""

from __future__ import annotations

from hisaab.group.v1 import group_pb2_grpc

from libs import settings as settings_mod
from libs.clients.features.install import gate_interceptor
from libs.clients.names import NameBook
from libs.clients.rosters import RosterCache
from libs.clients.users import UserDirectory
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.display_names import labelled
from libs.rpc.peers import peer_channel
from libs.server import ServiceApp
from services.group.peers import AuthDirectory, SettlementBalances
from services.group.preset_usecases import PresetUseCases
from services.group.repository import SqlGroupRepositories
from services.group.servicer import GroupServicer
from services.group.usecases import GroupUseCases


async def build() -> ServiceApp:
    settings = settings_mod.load("group")
    db = Database(settings.database_url, settings.database_reader_url, application_name="hisaab-group")
    auth_channel = peer_channel(settings, "auth")
    settlement_channel = peer_channel(settings, "settlement")
    rosters = RosterCache.from_url(settings.redis_url)
    uow = SqlUnitOfWork(db, SqlGroupRepositories)
    usecases = GroupUseCases(
        uow, AuthDirectory(auth_channel), SettlementBalances(settlement_channel), rosters
    )
    servicer = labelled(
        GroupServicer(usecases, PresetUseCases(uow), uow),
        NameBook(rosters, UserDirectory(auth_channel)),
        settings.service.grpc_service,
    )

    async def close_channel() -> None:
        await auth_channel.close(None)

    return ServiceApp(
        gate=gate_interceptor,
        settings=settings,
        register=lambda server: group_pb2_grpc.add_GroupServiceServicer_to_server(servicer, server),
        on_stop=[db.close, rosters.close, close_channel],
    )
