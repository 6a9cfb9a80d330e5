"""Composition root of settlement-service."""

from __future__ import annotations

from hisaab.settlement.v1 import settlement_pb2_grpc

from libs import settings as settings_mod
from libs.cache import Cache
from libs.clients.features.install import gate_interceptor
from libs.clients.names import NameBook
from libs.clients.rosters import RosterCache
from libs.clients.users import UserDirectory
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.display_names import labelled
from libs.rpc.peers import peer_channel
from libs.server import ServiceApp
from services.settlement.balance_cache import BalanceCache
from services.settlement.peers import GroupDirectory, UserProfiles
from services.settlement.rates.ecb import EcbSource
from services.settlement.repository import SqlSettlementRepositories
from services.settlement.servicer import SettlementServicer
from services.settlement.usecases import SettlementUseCases


async def build() -> ServiceApp:
    settings = settings_mod.load("settlement")
    db = Database(settings.database_url, settings.database_reader_url, application_name="hisaab-settlement")
    cache = Cache(settings.redis_url, prefix="settlement")
    group_channel = peer_channel(settings, "group")
    auth_channel = peer_channel(settings, "auth")
    rosters = RosterCache(cache)  # one client and one outage window for both caches
    usecases = SettlementUseCases(
        SqlUnitOfWork(db, SqlSettlementRepositories),
        GroupDirectory(group_channel, rosters),
        UserProfiles(auth_channel),
        BalanceCache(cache),
        EcbSource(settings_mod.exchange_rates_url()),
    )
    servicer = labelled(
        SettlementServicer(usecases),
        NameBook(rosters, UserDirectory(auth_channel)),
        settings.service.grpc_service,
    )

    async def close_peers() -> None:
        await group_channel.close(None)
        await auth_channel.close(None)

    return ServiceApp(
        gate=gate_interceptor,
        settings=settings,
        register=lambda server: settlement_pb2_grpc.add_SettlementServiceServicer_to_server(servicer, server),
        on_stop=[db.close, cache.close, close_peers],
    )
