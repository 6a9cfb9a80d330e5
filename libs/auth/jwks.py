"""A JWKS cache: keys by kid, refetched when an unknown kid shows up.

Refetches are rate limited so a stream of tokens with made-up kids cannot turn
into a stream of requests to the key server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt

MIN_REFRESH_INTERVAL = 30.0
FETCH_TIMEOUT = 3.0


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 key id of a public RSA JWK: the same for the same key, across restarts."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")


def fetch_url(url: str) -> dict[str, Any]:
    if not url.startswith(("http://", "https://", "file://")):
        raise ValueError(f"unsupported JWKS URL {url!r}")
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as resp:  # noqa: S310 (scheme checked)
        data: dict[str, Any] = json.load(resp)
    return data


class JwksCache:
    def __init__(self, source: Callable[[], dict[str, Any]], *, clock: Callable[[], float] = time.monotonic):
        self._source = source
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._last_fetch = float("-inf")
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str) -> JwksCache:
        return cls(lambda: fetch_url(url))

    async def key(self, kid: str) -> jwt.PyJWK | None:
        found = self._keys.get(kid)
        if found is not None:
            return found
        async with self._lock:
            found = self._keys.get(kid)
            if found is None and self._clock() - self._last_fetch >= MIN_REFRESH_INTERVAL:
                await self._refresh()
                found = self._keys.get(kid)
        return found

    async def _refresh(self) -> None:
        self._last_fetch = self._clock()
        try:
            data = await asyncio.to_thread(self._source)
        except Exception:  # the key server being down must not crash the RPC: the token just fails
            # Allow a quick retry: a failed fetch should not lock out new keys for the full interval.
            self._last_fetch = self._clock() - MIN_REFRESH_INTERVAL + 1.0
            return
        keys: dict[str, jwt.PyJWK] = {}
        for raw in data.get("keys", []):
            try:
                k = jwt.PyJWK(raw)
            except jwt.PyJWTError:
                continue
            if k.key_id:
                keys[k.key_id] = k
        self._keys = keys
