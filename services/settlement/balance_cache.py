"""Group balances and their debt plan in Redis, keyed by the group's ledger version.

Every ledger write bumps ``ledger.group_versions`` in its own transaction (see
libs.ledger.versions), whichever service made it, so a key naming an older version is
simply never read again and expires by TTL: nothing has to delete it. The version is a
one-row primary-key read; on a miss (or with Redis down) the answer comes from the
ledger of the caller's unit of work, never from Redis alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from libs.cache import Cache, ReadAhead
from libs.ledger.book import Ledger
from services.settlement import domain
from services.settlement.domain import Transfer

# Only bounds the memory of versions no one reads any more; a live key is never stale.
TTL_SECONDS = 3600.0

GroupBalances = dict[str, dict[str, int]]


def _decode_balances(raw: bytes) -> GroupBalances | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    out: GroupBalances = {}
    for currency, nets in data.items():
        if not isinstance(nets, dict) or not all(type(v) is int for v in nets.values()):
            return None
        out[str(currency)] = {str(u): v for u, v in nets.items()}
    return out


def _decode_plan(raw: bytes) -> tuple[list[Transfer], bool] | None:
    try:
        data: Any = json.loads(raw)
        transfers = [Transfer(str(c), str(p), str(q), int(a)) for c, p, q, a in data["transfers"]]
        return transfers, bool(data["optimal"])
    except (ValueError, KeyError, TypeError):
        return None


class BalanceCache:
    def __init__(self, cache: Cache, *, ttl_seconds: float = TTL_SECONDS):
        self._cache = cache
        self._ttl = ttl_seconds

    async def balances(self, ledger: Ledger, group_id: str) -> GroupBalances:
        """currency → user → net (non-zero only), as Ledger.group_balances gives them."""
        return await self.balances_at(ledger, group_id, await self.current_key(ledger, group_id))

    async def current_key(self, ledger: Ledger, group_id: str) -> str:
        """The key of the group's balances at its ledger version now: read it before the
        balances (see versions.current)."""
        return self._balances_key(group_id, str(await ledger.version(group_id)))

    def _balances_key(self, group_id: str, version: str) -> str:
        return self._cache.key("balances", group_id, version)

    async def read_ahead(self, key: str, others: Sequence[str] = ()) -> ReadAhead | None:
        """The balances under ``key`` and ``others`` in one round trip (libs.cache)."""
        return await self._cache.read_ahead([key, *others])

    async def balances_at(self, ledger: Ledger, group_id: str, key: str) -> GroupBalances:
        """The balances under ``current_key``'s key, from the cache or else the ledger."""
        raw = await self._cache.get(key)
        if raw is not None and (hit := _decode_balances(raw)) is not None:
            return hit
        found = await ledger.group_balances(group_id)
        await self._cache.set(key, json.dumps(found, sort_keys=True).encode(), self._ttl)
        return found

    async def plan(self, ledger: Ledger, group_id: str) -> tuple[list[Transfer], bool]:
        """The simplified debts of every currency (the expensive part: worth caching)."""
        version = str(await ledger.version(group_id))
        key = self._cache.key("plan", group_id, version)
        raw = await self._cache.get(key)
        if raw is not None and (hit := _decode_plan(raw)) is not None:
            return hit
        # The balances of the same version: its key, rather than a second read of the version.
        balances = await self.balances_at(ledger, group_id, self._balances_key(group_id, version))
        transfers, optimal = domain.plan(balances)
        payload = {
            "transfers": [[t.currency, t.payer, t.payee, t.amount_minor] for t in transfers],
            "optimal": optimal,
        }
        await self._cache.set(key, json.dumps(payload).encode(), self._ttl)
        return transfers, optimal
