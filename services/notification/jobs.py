"""Scheduled jobs owned by other services: their internal RPCs, called with the service identity."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from hisaab.expense.v1 import expense_pb2, expense_pb2_grpc
from hisaab.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from hisaab.settlement.v1 import settlement_pb2, settlement_pb2_grpc

from libs import clock, wire
from libs.auth.service_identity import ServiceToken
from libs.errors import Unavailable

# Generating many occurrences or expiring many entitlements takes longer than a normal call.
JOB_DEADLINE_SECONDS = 120.0


def external_jobs(
    expense: grpc.aio.Channel,
    pricing: grpc.aio.Channel,
    settlement: grpc.aio.Channel,
    identity: ServiceToken,
) -> dict[str, Callable[[datetime], Awaitable[int]]]:
    expenses = expense_pb2_grpc.ExpenseServiceStub(expense)
    prices = pricing_pb2_grpc.PricingServiceStub(pricing)
    settlements = settlement_pb2_grpc.SettlementServiceStub(settlement)

    async def generate_recurring(period_start: datetime) -> int:
        day = clock.business_date(period_start)
        try:
            answer = await expenses.GenerateRecurringOccurrences(
                expense_pb2.GenerateRecurringOccurrencesRequest(run_date=wire.date_pb(day)),
                metadata=identity.metadata(),
                timeout=JOB_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as err:
            raise Unavailable(f"expense-service: {err.code().name} {err.details()}") from err
        return int(answer.rules_processed)

    async def expire_entitlements(period_start: datetime) -> int:
        now = Timestamp()
        now.FromDatetime(period_start)
        try:
            answer = await prices.ExpireEntitlements(
                pricing_pb2.ExpireEntitlementsRequest(now=now),
                metadata=identity.metadata(),
                timeout=JOB_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as err:
            raise Unavailable(f"pricing-service: {err.code().name} {err.details()}") from err
        return int(answer.expired_count)

    async def refresh_exchange_rates(period_start: datetime) -> int:
        try:
            answer = await settlements.RefreshExchangeRates(
                settlement_pb2.RefreshExchangeRatesRequest(),
                metadata=identity.metadata(),
                timeout=JOB_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as err:
            raise Unavailable(f"settlement-service: {err.code().name} {err.details()}") from err
        return int(answer.currencies) if answer.stored else 0

    return {
        "generate_recurring_expenses": generate_recurring,
        "expire_entitlements": expire_entitlements,
        "refresh_exchange_rates": refresh_exchange_rates,
    }
