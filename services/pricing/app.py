"""Composition root of pricing-service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from hisaab.pricing.v1 import pricing_pb2_grpc

from libs import settings as settings_mod
from libs.cache import Cache
from libs.clients.features import keys
from libs.clients.features.cache import EntitlementCache
from libs.clients.features.install import gate_interceptor
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.server import ServiceApp
from libs.settings import Settings
from services.pricing import config as config_mod
from services.pricing.catalog import CatalogUseCases
from services.pricing.config import PricingConfig
from services.pricing.domain import ProviderKind
from services.pricing.entitlements import EntitlementUseCases
from services.pricing.providers import PaymentProvider
from services.pricing.providers.dev import DevProvider
from services.pricing.providers.razorpay import RazorpayProvider
from services.pricing.purchases import PurchaseUseCases
from services.pricing.repository import SqlPricingRepositories
from services.pricing.servicer import PricingServicer


def providers(config: PricingConfig) -> dict[ProviderKind, PaymentProvider]:
    found: dict[ProviderKind, PaymentProvider] = {}
    if "dev" in config.providers:
        found[ProviderKind.DEV] = DevProvider()
    if "razorpay" in config.providers:
        found[ProviderKind.RAZORPAY] = RazorpayProvider(config.razorpay_key_id, config.razorpay_key_secret)
    return found


def entitlement_cache(settings: Settings) -> tuple[EntitlementCache, Cache]:
    cache = Cache(settings.redis_url, prefix=keys.PREFIX)
    return EntitlementCache(cache), cache


def entitlement_usecases(settings: Settings, db: Database) -> tuple[EntitlementUseCases, Cache]:
    cache, raw = entitlement_cache(settings)
    return EntitlementUseCases(SqlUnitOfWork(db, SqlPricingRepositories), cache), raw


@asynccontextmanager
async def job_entitlements() -> AsyncIterator[EntitlementUseCases]:
    """The entitlement use cases for a one-off job (services.pricing.jobs), closed after it."""
    settings = settings_mod.load("pricing")
    db = Database(settings.database_url, settings.database_reader_url, application_name="hisaab-pricing-jobs")
    entitlements, cache = entitlement_usecases(settings, db)
    try:
        yield entitlements
    finally:
        await cache.close()
        await db.close()


async def build() -> ServiceApp:
    settings = settings_mod.load("pricing")
    config = config_mod.load(settings.env)
    db = Database(settings.database_url, settings.database_reader_url, application_name="hisaab-pricing")
    uow = SqlUnitOfWork(db, SqlPricingRepositories)
    entitlements, cache = entitlement_usecases(settings, db)
    purchases = PurchaseUseCases(
        uow, entitlements, providers(config), razorpay_webhook_secret=config.razorpay_webhook_secret
    )
    servicer = PricingServicer(CatalogUseCases(uow), purchases, entitlements, admins=config.admins)

    def register(server: grpc.aio.Server) -> None:
        pricing_pb2_grpc.add_PricingServiceServicer_to_server(servicer, server)

    return ServiceApp(
        gate=gate_interceptor, settings=settings, register=register, on_stop=[db.close, cache.close]
    )
