"""Access-token verification: signature from the JWKS, issuer, expiry, token_use, client id.

A phone sends the same access token with every request until it expires, and checking
it (base64, JSON, an RSA signature) is a few percent of a request's CPU. So a token that
passed is remembered for up to ``REMEMBER_SECONDS``, and never past its own expiry, then
checked in full again. Tokens that fail are not remembered.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from libs.auth.caller import Caller, has_internal_scope, subject
from libs.auth.jwks import JwksCache
from libs.errors import Unauthenticated

# Only asymmetric algorithms: a token claiming HS256 would otherwise be checked
# with the public RSA key as an HMAC secret.
ALLOWED_ALGORITHMS = ("RS256",)
LEEWAY_SECONDS = 30
REMEMBER_SECONDS = 60.0
REMEMBERED_TOKENS = 10_000


class TokenVerifier:
    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        client_id: str,
        service_clients: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._jwks = jwks
        self._issuer = issuer
        self._client_id = client_id
        # Our services' own clients (client id -> service name): their tokens carry the
        # internal scope, and the client id, signed by the issuer, proves which service it is.
        self._service_clients = dict(service_clients or {})
        # token -> (caller, monotonic time until which it stands), least recently used first
        self._verified: OrderedDict[str, tuple[Caller, float]] = OrderedDict()
        self._clock = clock

    async def verify(self, token: str) -> Caller:
        now = self._clock()
        remembered = self._verified.get(token)
        if remembered is not None:
            caller, until = remembered
            if now < until:
                self._verified.move_to_end(token)
                return caller
            del self._verified[token]
        caller = await self._check(token)
        # exp is wall-clock time; the cache counts on the monotonic clock.
        lifetime = float(caller.claims["exp"]) + LEEWAY_SECONDS - time.time()
        self._verified[token] = (caller, now + min(REMEMBER_SECONDS, lifetime))
        if len(self._verified) > REMEMBERED_TOKENS:
            self._verified.popitem(last=False)
        return caller

    async def _check(self, token: str) -> Caller:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise Unauthenticated("token algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("token has no key id")
        key = await self._jwks.key(kid)
        if key is None:
            raise Unauthenticated("token signed by an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=list(ALLOWED_ALGORITHMS),
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired", reason="TOKEN_EXPIRED") from None
        except jwt.PyJWTError:
            raise Unauthenticated("token rejected") from None
        if claims.get("token_use") != "access":
            raise Unauthenticated("an access token is required")
        client = claims.get("client_id")
        service = self._service_clients.get(client) if isinstance(client, str) else None
        if has_internal_scope(claims):
            # Only a service's own client may hold the internal scope; the app's never does.
            if service is None:
                raise Unauthenticated("the internal scope is only for service clients")
            return Caller(user_id=subject(service), token=token, claims=claims, service=service)
        if client != self._client_id:
            raise Unauthenticated("token issued to another client")
        return Caller(user_id=str(claims["sub"]), token=token, claims=claims)
