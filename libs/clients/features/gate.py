"""The feature gate: one interceptor that enforces ``requires_feature`` and ``quota`` for every service.

It runs inside the server pipeline (after authentication, so the caller is
known, and before the handler; its errors are mapped like any domain error):

- ``requires_feature``: the caller must hold the feature now, else
  PERMISSION_DENIED / FEATURE_REQUIRED naming the feature and the packs that
  unlock it (the app shows them as an upsell; HTTP 403 through Envoy).
- ``quota``: unless the caller holds the lifting feature, one use is reserved
  before the call (RESOURCE_EXHAUSTED / QUOTA_EXCEEDED with the reset time at
  the limit; HTTP 429), released if the call fails, and recorded in
  PostgreSQL through pricing-service once it succeeded.

It is an interceptor of its own, not a step of the pipeline, because a quota
is counted only after the call succeeded.
Entitlements come from Redis, else from pricing-service (PostgreSQL); a refusal
based on the Redis copy is confirmed with pricing-service first, so a purchase
counts at once even when its invalidation was lost. The catalog (which packs
unlock what, quota limits) is kept in memory briefly.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf import duration_pb2
from hisaab.common.v1 import errors_pb2, money_pb2

from libs.auth.caller import current_caller
from libs.cache import ReadAhead, end_read_ahead
from libs.clients.features import keys
from libs.clients.features.cache import EntitlementCache
from libs.clients.features.counter import Outcome, QuotaCounter
from libs.clients.features.holdings import Holdings
from libs.clients.features.source import Catalog, PackOffer, PricingSource, QuotaDef, QuotaState
from libs.clients.features.windows import window
from libs.clock import Clock, now
from libs.errors import NotAllowed, ResourceExhausted, Unauthenticated, Unavailable
from libs.rpc.descriptors import MethodRules
from libs.rpc.wrapping import Behavior, UnaryWrapper

log = logging.getLogger("hisaab.features")

CATALOG_TTL_SECONDS = 60.0
# Counters outlive their window a little so a call that straddles the reset
# still finds the key it reserved in.
COUNTER_SLACK_SECONDS = 300.0


def is_gated(rules: MethodRules) -> bool:
    return bool(rules.requires_feature or rules.quota_key)


@dataclass(frozen=True)
class Ticket:
    """A reserved quota use, to commit after success or release after failure."""

    user_id: str
    quota: QuotaDef
    counter_key: str  # raised to PostgreSQL's count once the use is recorded
    ttl_seconds: float
    request_id: str = ""  # the call's own request_id, "" when it has none
    # False when nothing was reserved in Valkey: a retry of a call already counted, or
    # Valkey unavailable (PostgreSQL decided). Nothing to give back then.
    reserved: bool = True


def quota_headers(state: QuotaState) -> tuple[tuple[str, str], ...]:
    """Response metadata (HTTP headers through the gateway) after a counted call: which window
    the call was counted in and what is left of it, so an app can show "3 of 20 left today"."""
    return (
        ("x-quota-name", state.key),
        ("x-quota-limit", str(state.limit)),
        ("x-quota-remaining", str(max(state.limit - state.used, 0))),
        ("x-quota-reset", rfc3339(state.reset_time)),
    )


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def offer_proto(offer: PackOffer) -> errors_pb2.PackOffer:
    proto = errors_pb2.PackOffer(
        pack=offer.name,
        display_name=offer.display_name,
        price=money_pb2.Money(currency_code=offer.currency_code, amount_minor=offer.price_minor),
    )
    if offer.duration_seconds is not None:
        proto.duration.CopyFrom(duration_pb2.Duration(seconds=offer.duration_seconds))
    return proto


def feature_required(feature: str, packs: list[PackOffer]) -> NotAllowed:
    """The denial an app turns into an upsell: the pack names in ErrorInfo (for a quick check)
    and each pack's name, price and duration in a FeatureRequired detail (to draw the sheet)."""
    return NotAllowed(
        f"this needs the {feature} feature",
        reason="FEATURE_REQUIRED",
        metadata={"feature": feature, "packs": ",".join(p.name for p in packs)},
        details=[errors_pb2.FeatureRequired(feature=feature, packs=[offer_proto(p) for p in packs])],
    )


def quota_exceeded(quota: str, limit: int, reset: datetime) -> ResourceExhausted:
    reset_text = rfc3339(reset)
    return ResourceExhausted(
        f"the free limit of {limit} for {quota} is used up until {reset_text}",
        reason="QUOTA_EXCEEDED",
        metadata={"quota": quota, "limit": str(limit), "reset_time": reset_text},
    )


class FeatureGate:
    def __init__(
        self,
        source: PricingSource,
        cache: EntitlementCache,
        counter: QuotaCounter,
        *,
        clock: Clock = now,
    ):
        self._source = source
        self._cache = cache
        self._counter = counter
        self._now = clock
        self._catalog: Catalog | None = None
        self._catalog_until = 0.0
        self._catalog_lock = asyncio.Lock()

    async def read_ahead(self, user_id: str, others: Sequence[str] = ()) -> ReadAhead | None:
        """The caller's cached entitlements and the keys the call reads next, in one round trip
        (``libs.cache``); end it with ``end_read_ahead``."""
        return await self._cache.read_ahead(user_id, others)

    async def _fresh_holdings(self, user_id: str) -> Holdings:
        holdings, _ = await self._source.check(user_id, ())
        await self._cache.put(user_id, holdings, self._now())
        return holdings

    async def catalog(self) -> Catalog:
        if self._catalog is not None and time.monotonic() < self._catalog_until:
            return self._catalog
        async with self._catalog_lock:
            if self._catalog is None or time.monotonic() >= self._catalog_until:
                try:
                    self._catalog = await self._source.catalog()
                    self._catalog_until = time.monotonic() + CATALOG_TTL_SECONDS
                except Unavailable:
                    if self._catalog is None:
                        raise
                    log.warning("pricing catalog unavailable; using the last copy")
            return self._catalog

    async def admit(self, rules: MethodRules, user_id: str, request_id: str = "") -> Ticket | None:
        """Raises when the caller may not make this call; a ticket when a quota use was reserved.

        ``request_id`` is the call's own (AIP-155): a retry of a call this window already
        counted is admitted without a second use, even when the quota is full, since it
        gets the first call's stored answer."""
        now = self._now()
        cached = await self._cache.get(user_id)
        holdings = cached if cached is not None else await self._fresh_holdings(user_id)
        feature = rules.requires_feature
        if (
            feature
            and not holdings.holds(feature, now)
            and not await self._held_after_all(cached, user_id, feature, now)
        ):
            raise feature_required(feature, await self._packs_for(feature))
        if not rules.quota_key:
            return None
        if rules.quota_lifted_by and holdings.holds(rules.quota_lifted_by, now):
            return None
        quota = (await self.catalog()).quotas.get(rules.quota_key)
        if quota is None:
            # The contract names a quota the catalog does not define: nothing to limit.
            log.warning("quota not in the catalog", extra={"quota": rules.quota_key})
            return None
        try:
            return await self._reserve(user_id, quota, now, request_id)
        except ResourceExhausted:
            lifting = rules.quota_lifted_by
            if not lifting or not await self._held_after_all(cached, user_id, lifting, now):
                raise
            return None

    async def _held_after_all(
        self, cached: Holdings | None, user_id: str, feature: str, now: datetime
    ) -> bool:
        """Whether PostgreSQL says the user holds ``feature`` when the cached copy said not.

        A refusal is rare and is what a purchase is meant to end, so it is confirmed: a
        purchase whose invalidation never reached the cache still counts at once. (A stale
        copy the other way can only admit, until its short TTL.)"""
        if cached is None or not (await self._fresh_holdings(user_id)).holds(feature, now):
            return False
        # Only a lost invalidation gets here (or a purchase within the last moment): worth
        # seeing if it happens often.
        log.warning("cached entitlements were out of date", extra={"user": user_id, "feature": feature})
        return True

    async def _packs_for(self, feature: str) -> list[PackOffer]:
        try:
            return list((await self.catalog()).packs_by_feature.get(feature, []))
        except Unavailable:
            return []  # still a correct denial, just without the upsell

    async def _reserve(self, user_id: str, quota: QuotaDef, now: datetime, request_id: str) -> Ticket:
        win = window(quota.period, quota.time_zone, now)
        key = keys.quota_counter(user_id, quota.key, win.start)
        ttl = (win.reset - now).total_seconds() + COUNTER_SLACK_SECONDS
        reservation = await self._counter.reserve(key, quota.limit, ttl, None, request_id)
        if reservation is not None and reservation.outcome is Outcome.MISSING:
            # First use seen in this window (or Redis lost the key): seed from PostgreSQL.
            used = await self._used_in_database(user_id, quota, win.reset)
            reservation = await self._counter.reserve(key, quota.limit, ttl, used, request_id)
        if reservation is None:
            # Redis is unavailable: PostgreSQL decides.
            await self._used_in_database(user_id, quota, win.reset)
        if reservation is None or reservation.outcome is Outcome.RETRY:
            return Ticket(user_id, quota, key, ttl, request_id, reserved=False)
        if reservation.outcome is not Outcome.RESERVED:
            raise quota_exceeded(quota.key, quota.limit, win.reset)
        return Ticket(user_id, quota, key, ttl, request_id)

    async def _used_in_database(self, user_id: str, quota: QuotaDef, reset: datetime) -> int:
        """The use count PostgreSQL has for this window; raises when no use is left."""
        _, states = await self._source.check(user_id, (quota.key,))
        state = states.get(quota.key)
        if state is None:
            return 0
        if not state.allowed and not state.unlimited:
            raise quota_exceeded(quota.key, state.limit, state.reset_time)
        return state.used

    async def commit(self, ticket: Ticket, request_id: str) -> QuotaState | None:
        """Records the use of a call that succeeded and returns the quota's state after it (None
        when it could not be recorded: the call's result stands all the same)."""
        try:
            state = await self._source.record_usage(ticket.user_id, ticket.quota.key, request_id)
        except Unavailable:
            log.warning("quota use not recorded", extra={"quota": ticket.quota.key, "user": ticket.user_id})
            return None
        if ticket.counter_key:
            await self._counter.at_least(ticket.counter_key, state.used, ticket.ttl_seconds)
        return state

    async def release(self, ticket: Ticket) -> None:
        if ticket.counter_key and ticket.reserved:
            await self._counter.release(ticket.counter_key, ticket.request_id)


def _own_request_id(request: Any) -> str:
    """A create's own request_id (a UUID, AIP-155), normalised; "" when it has none."""
    value = getattr(request, "request_id", "")
    if isinstance(value, str) and value:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    return ""


# The cache keys a call will read after the gate, from its request (e.g. its group's roster).
ReadAheadKeys = Callable[[Any], Sequence[str]]


class GateInterceptor(UnaryWrapper):
    """Wraps only the methods the contract gates; must come after ``ServerPipeline``."""

    def __init__(
        self, gate: FeatureGate, rules: Mapping[str, MethodRules], read_ahead: ReadAheadKeys | None = None
    ):
        super().__init__()
        self.gate = gate
        self._rules = {path: r for path, r in rules.items() if is_gated(r)}
        self._read_ahead = read_ahead

    async def wrap(self, method: str, inner: Behavior, handler: Any) -> Behavior | None:
        rules = self._rules.get(method)
        return None if rules is None else self._wrap(inner, rules)

    def _wrap(self, inner: Behavior, rules: MethodRules) -> Behavior:
        gate = self.gate
        read_ahead = self._read_ahead

        async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            caller = current_caller()
            if caller is None:
                raise Unauthenticated("sign in first")
            ahead = await gate.read_ahead(caller.user_id, read_ahead(request) if read_ahead else ())
            try:
                return await admitted(request, context, caller.user_id)
            finally:
                end_read_ahead(ahead)

        async def admitted(request: Any, context: grpc.aio.ServicerContext[Any, Any], user_id: str) -> Any:
            ticket = await gate.admit(rules, user_id, _own_request_id(request))
            if ticket is None:
                return await inner(request, context)
            try:
                response = await inner(request, context)
            except BaseException:
                await gate.release(ticket)
                raise
            # The call's own id makes the count idempotent with the call; a new one otherwise.
            state = await gate.commit(ticket, ticket.request_id or str(uuid.uuid4()))
            if state is not None:
                await context.send_initial_metadata(quota_headers(state))
            return response

        return behavior
