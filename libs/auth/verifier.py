"""Access-token verification: signature from the JWKS, issuer, expiry, token_use, client id."""

from __future__ import annotations

from typing import Any

import jwt

from libs.auth.caller import INTERNAL_SCOPE, Caller
from libs.auth.jwks import JwksCache
from libs.errors import Unauthenticated

# Only asymmetric algorithms: a token claiming HS256 would otherwise be checked
# with the public RSA key as an HMAC secret.
ALLOWED_ALGORITHMS = ("RS256",)
LEEWAY_SECONDS = 30


class TokenVerifier:
    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        client_id: str,
        service_client_ids: frozenset[str] = frozenset(),
    ):
        self._jwks = jwks
        self._issuer = issuer
        self._client_id = client_id
        # Our services' own app clients (client-credentials tokens); only with the internal scope.
        self._service_client_ids = service_client_ids

    async def verify(self, token: str) -> Caller:
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
        if client != self._client_id:
            internal = INTERNAL_SCOPE in str(claims.get("scope", "")).split()
            if client not in self._service_client_ids or not internal:
                raise Unauthenticated("token issued to another client")
        return Caller(user_id=str(claims["sub"]), token=token, claims=claims)
