"""Quota counters in Redis: reserve a use before the call, release it if the call fails.

A reservation is one atomic script (seed from PostgreSQL if the counter is
missing, refuse at the limit, else increment), so concurrent calls cannot both
take the last use. Like ``libs.cache``, every operation fails open: on a Redis
error it answers None and the gate decides from PostgreSQL instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from libs import cache

log = logging.getLogger("hisaab.features")


# KEYS[1] counter, KEYS[2] the window's request ids; ARGV[1] limit, ARGV[2] seed ("" =
# unknown), ARGV[3] ttl ms, ARGV[4] the call's request_id ("" = none).
# Returns {status, used}: 0 reserved (used includes this one), 1 full, 2 missing, 3 a retry
# of a request already counted in this window (admitted, nothing reserved).
_RESERVE = """
if ARGV[4] ~= '' and redis.call('SISMEMBER', KEYS[2], ARGV[4]) == 1 then
  return {3, tonumber(redis.call('GET', KEYS[1]) or '0')}
end
local v = redis.call('GET', KEYS[1])
if not v then
  if ARGV[2] == '' then return {2, 0} end
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3], 'NX')
  v = redis.call('GET', KEYS[1])
end
local used = tonumber(v)
if used >= tonumber(ARGV[1]) then return {1, used} end
if ARGV[4] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return {0, redis.call('INCR', KEYS[1])}
"""

# Gives back a reservation whose call failed; never below zero. Its request id is
# forgotten, so a retry of the failed call reserves again. A call with a request id gives
# back only what it holds: releasing twice, or a reservation that never landed, is a no-op.
_RELEASE = """
if ARGV[1] ~= '' and redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return -1 end
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""

# Raises the counter to the count PostgreSQL reports (never lowers it: other
# reservations may be in flight). Heals a counter that missed uses while Redis
# was down.
_AT_LEAST = """
local v = tonumber(redis.call('GET', KEYS[1]) or '-1')
if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 0
"""


class Outcome(Enum):
    RESERVED = "reserved"
    FULL = "full"
    MISSING = "missing"
    # A retry (same request_id) of a call already counted: it runs without a use of its
    # own, and the stored answer it gets back costs the caller nothing.
    RETRY = "retry"


@dataclass(frozen=True)
class Reservation:
    outcome: Outcome
    used: int


class _Unanswered(Exception):
    """The command was sent, or may have been, and no answer came."""


class QuotaCounter:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.1,
        release_timeout: float = cache.INVALIDATION_TIMEOUT_SECONDS,
    ):
        self._timeout = timeout
        # Giving a use back is what keeps the count exact, so it waits longer, like a
        # cache invalidation, and is attempted even while reads skip Valkey.
        self._release_timeout = max(timeout, release_timeout)
        self._client: redis.Redis | None = cache.client(url, timeout) if url else None
        self._outage = cache.Outage(log, "quota counter unavailable; counting in the database")
        self._scripts: dict[str, Any] = {}

    async def _run(
        self,
        name: str,
        source: str,
        keys: list[str],
        *args: str | int,
        always: bool = False,
        bound: float | None = None,
    ) -> Any:
        """The script's answer; None when Valkey is skipped after an error (unless ``always``)
        or is not configured. Raises ``_Unanswered`` when it failed now."""
        client = self._client
        if client is None or (not always and self._outage.ongoing()):
            return None
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = client.register_script(source)
        try:
            async with asyncio.timeout(bound or self._timeout):
                return await script(keys=keys, args=list(args))
        except (RedisError, OSError) as err:
            self._outage.failed(name, err)
            raise _Unanswered from err

    async def reserve(
        self, key: str, limit: int, ttl_seconds: float, seed: int | None, request_id: str = ""
    ) -> Reservation | None:
        """None when Valkey cannot say: the database decides, and nothing is held here."""
        try:
            result = await self._run(
                "reserve",
                _RESERVE,
                [key, _requests(key)],
                limit,
                "" if seed is None else seed,
                _ms(ttl_seconds),
                request_id,
            )
        except _Unanswered:
            # The reservation may have landed with its answer lost (a timeout): give it back,
            # or the window would refuse one call early. Only a request id tells it apart.
            if request_id:
                await self.release(key, request_id)
            return None
        if result is None:
            return None
        status, used = int(result[0]), int(result[1])
        outcome = (Outcome.RESERVED, Outcome.FULL, Outcome.MISSING, Outcome.RETRY)[status]
        return Reservation(outcome, used)

    async def release(self, key: str, request_id: str = "") -> None:
        with contextlib.suppress(_Unanswered):
            await self._run(
                "release",
                _RELEASE,
                [key, _requests(key)],
                request_id,
                always=True,
                bound=self._release_timeout,
            )

    async def at_least(self, key: str, used: int, ttl_seconds: float) -> None:
        """Raises the counter to PostgreSQL's count. Attempted even while reservations skip
        Valkey: the uses counted in the database meanwhile must reach the counter before
        it decides again, or it would admit them a second time."""
        with contextlib.suppress(_Unanswered):
            await self._run("at_least", _AT_LEAST, [key], used, _ms(ttl_seconds), always=True)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _requests(counter_key: str) -> str:
    # Beside its counter (same window, same expiry); the braces keep both in one cluster slot.
    return f"{{{counter_key}}}:requests"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
