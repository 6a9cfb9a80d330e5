"""The per-user copy of entitlements in Redis: read by the gate, invalidated by pricing-service.

An entry lives at most ``MAX_TTL_SECONDS`` and never past the moment the
holdings change on their own (the earliest expiry), so a missed invalidation
(Redis was down when a purchase or refund happened) is bounded in time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from libs.cache import Cache, ReadAhead
from libs.clients.features import keys
from libs.clients.features.holdings import Holdings

log = logging.getLogger("hisaab.features")

MAX_TTL_SECONDS = 60.0


class EntitlementCache:
    def __init__(self, cache: Cache):
        self._cache = cache

    async def get(self, user_id: str) -> Holdings | None:
        raw = await self._cache.get(keys.entitlements(user_id))
        if raw is None:
            return None
        try:
            return Holdings.from_bytes(raw)
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable entitlements cache entry; refetching", extra={"user": user_id})
            return None

    async def read_ahead(self, user_id: str, others: Sequence[str] = ()) -> ReadAhead | None:
        """The user's entry and ``others`` (keys the request reads next) in one round trip."""
        return await self._cache.read_ahead([keys.entitlements(user_id), *others])

    async def put(self, user_id: str, holdings: Holdings, now: datetime) -> None:
        ttl = MAX_TTL_SECONDS
        if holdings.expire_time is not None:
            ttl = min(ttl, (holdings.expire_time - now).total_seconds())
        await self._cache.set(keys.entitlements(user_id), holdings.to_bytes(), ttl)

    async def invalidate(self, *user_ids: str) -> None:
        await self._cache.delete(*(keys.entitlements(u) for u in user_ids))
