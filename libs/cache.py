"""Redis/Valkey as an accelerator, never the source of truth.

Every operation degrades to "no cache": a read error is a miss, a write or
delete error is dropped. After an error, reads and writes skip Redis for a
short while so an outage costs no timeouts on the hot path; deletes
(invalidations) are always attempted, with a longer bound than reads. Cached values
carry a TTL, which bounds how long a value that missed its invalidation during an
outage can live.

Within one request (``request_scope``, opened for every RPC by the server pipeline)
a key found in Valkey answers every later read of it in that request, until the
request itself writes or deletes it: the membership check and the names on the
answer read one roster, not two. A key not found is read again next time, so that
whatever fills it (a call to its owner, say) is seen. A request that will read
several keys can read them ahead in one round trip (``read_ahead``). Nothing outlives
the request, and tasks the request starts read Valkey themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from contextvars import ContextVar, Token

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from libs.metrics import caches

log = logging.getLogger("hisaab.cache")

SKIP_AFTER_ERROR_SECONDS = 2.0

# What the current request (its own task) has read: value, or None for a miss read ahead.
# Keys name the one Valkey every service shares.
_Seen = tuple["asyncio.Task[object] | None", dict[str, bytes | None]]
_AHEAD: ContextVar[_Seen | None] = ContextVar("hisaab_cache_request", default=None)
ReadAhead = Token[_Seen | None]


def _seen() -> dict[str, bytes | None] | None:
    scope = _AHEAD.get()
    # A task started by the request inherits its context, and may outlive it.
    return scope[1] if scope is not None and scope[0] is _current_task() else None


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def request_scope() -> ReadAhead:
    """Starts remembering what the current request reads; end it with ``end_read_ahead``."""
    return _AHEAD.set((_current_task(), {}))


# Values written by set_versioned are "<version>|<payload>"; an older version never
# replaces a newer one, whatever order racing writers arrive in.
_SET_IF_NOT_OLDER = """
local current = redis.call('GET', KEYS[1])
if current then
  local held = tonumber(string.match(current, '^(%d+)|'))
  if held and held > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
return 1
"""


def client(url: str, timeout: float = 0.1) -> redis.Redis:
    """A client for a cache the answer never depends on. Each call is bounded by its caller
    (``async with asyncio.timeout(...)``, ``timeout`` seconds in all): redis-py's own socket
    timeout runs every send under ``asyncio.wait_for``, which on this Python starts a task
    per command. Only connecting keeps a timeout of its own."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        # A pooled connection that died with a restarted server gets one fresh attempt,
        # so the first command after a restart (often an invalidation) is not lost.
        retry=Retry(NoBackoff(), retries=1),
        retry_on_error=[RedisConnectionError],
        # Every pooled connection may have died with the server: one idle for a
        # second is checked (and reconnected) before it carries a command.
        health_check_interval=1,
    )


# Invalidations (deletes, versioned writes) wait longer than reads: a read that gives up
# costs one trip to the database, an invalidation that gives up leaves a stale value for
# its whole TTL. A process starved of CPU for a moment on a busy node must not drop one.
INVALIDATION_TIMEOUT_SECONDS = 1.0


class Outage:
    """One client's view of Valkey failing: after an error, the calls that may be skipped
    skip Valkey for ``SKIP_AFTER_ERROR_SECONDS``, so an outage costs no timeout per request,
    and it is logged once, not once per call."""

    def __init__(self, logger: logging.Logger, message: str):
        self._log = logger
        self._message = message
        self._until = 0.0

    def ongoing(self) -> bool:
        return time.monotonic() < self._until

    def failed(self, op: str, err: Exception) -> None:
        if not self.ongoing():
            # A timeout's text is empty: name the error instead.
            self._log.warning(self._message, extra={"op": op, "error": str(err) or type(err).__name__})
        self._until = time.monotonic() + SKIP_AFTER_ERROR_SECONDS


class Cache:
    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        timeout: float = 0.1,
        invalidation_timeout: float = INVALIDATION_TIMEOUT_SECONDS,
    ):
        self._prefix = prefix
        self._timeout = timeout
        self._invalidation_timeout = max(timeout, invalidation_timeout)
        self._client = client(url, timeout) if url else None
        self._outage = Outage(log, "cache unavailable; answering from the database")

    def key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    def _usable(self) -> redis.Redis | None:
        return None if self._outage.ongoing() else self._client

    async def get(self, key: str) -> bytes | None:
        ahead = _seen()
        if ahead is not None and key in ahead:
            value = ahead[key]
            if value is None:
                del ahead[key]
            caches.read(key, "miss" if value is None else "hit")
            return value
        client = self._usable()
        if client is None:
            if self._client is not None:
                caches.read(key, "error")
            return None
        try:
            async with asyncio.timeout(self._timeout):
                value = await client.get(key)
        except (RedisError, OSError) as err:
            self._outage.failed("get", err)
            caches.read(key, "error")
            return None
        found = value if isinstance(value, bytes) else None
        caches.read(key, "miss" if found is None else "hit")
        if found is not None and ahead is not None:
            ahead[key] = found
        return found

    async def read_ahead(self, keys: Sequence[str]) -> ReadAhead | None:
        """Reads ``keys`` in one round trip for the rest of the current request: a ``get``
        of each, from any Cache, is answered with what was read here (see the module's
        doc). Inside a ``request_scope`` it joins that scope (None is returned); otherwise
        end it with ``end_read_ahead``. None also when nothing was read (Valkey
        unavailable)."""
        client = self._usable()
        if client is None or not keys:
            return None
        try:
            async with asyncio.timeout(self._timeout):
                values = await client.mget(list(keys))
        except (RedisError, OSError) as err:
            self._outage.failed("mget", err)
            return None
        read = {k: v if isinstance(v, bytes) else None for k, v in zip(keys, values, strict=True)}
        ahead = _seen()
        if ahead is not None:
            ahead.update(read)
            return None
        return _AHEAD.set((_current_task(), read))

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        _forget_ahead(key)
        client = self._usable()
        if client is None or ttl_seconds <= 0:
            return
        try:
            async with asyncio.timeout(self._timeout):
                await client.set(key, value, px=max(1, int(ttl_seconds * 1000)))
        except (RedisError, OSError) as err:
            self._outage.failed("set", err)

    async def set_versioned(self, key: str, version: int, value: bytes, ttl_seconds: float) -> None:
        """Store ``value`` unless the key holds a newer version. Always attempted, like a
        delete: it is how a writer replaces what readers would otherwise keep seeing."""
        _forget_ahead(key)
        client = self._client
        if client is None or ttl_seconds <= 0:
            return
        try:
            ttl_ms = max(1, int(ttl_seconds * 1000))
            async with asyncio.timeout(self._invalidation_timeout):
                await client.eval(_SET_IF_NOT_OLDER, 1, key, version, value, ttl_ms)  # type: ignore[misc]
        except (RedisError, OSError) as err:
            self._outage.failed("set_versioned", err)

    async def get_versioned(self, key: str) -> tuple[int, bytes] | None:
        """What set_versioned stored, as (version, value); None on a miss or an error."""
        raw = await self.get(key)
        if raw is None:
            return None
        head, sep, value = raw.partition(b"|")
        if not sep or not head.isdigit():
            return None
        return int(head), value

    async def delete(self, *keys: str) -> None:
        # An invalidation is always attempted, even in the skip window after an error:
        # skipping it would leave a stale value behind once Redis answers again.
        _forget_ahead(*keys)
        client = self._client
        if client is None or not keys:
            return
        try:
            async with asyncio.timeout(self._invalidation_timeout):
                await client.delete(*keys)
        except (RedisError, OSError) as err:
            self._outage.failed("delete", err)

    async def incr(self, key: str, ttl_seconds: float) -> int | None:
        """Increment a counter that expires after ``ttl_seconds``; None when Redis is unavailable."""
        client = self._usable()
        if client is None:
            return None
        try:
            async with asyncio.timeout(self._timeout), client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.pexpire(key, max(1, int(ttl_seconds * 1000)), nx=True)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as err:
            self._outage.failed("incr", err)
            return None
        return int(count)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _forget_ahead(*keys: str) -> None:
    # What a request writes, it reads back from Valkey, not from its snapshot.
    ahead = _seen()
    if ahead:
        for key in keys:
            ahead.pop(key, None)


def end_read_ahead(token: ReadAhead | None) -> None:
    if token is not None:
        _AHEAD.reset(token)
