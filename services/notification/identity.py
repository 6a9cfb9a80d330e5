"""The service's own identity for calls it makes with no user behind them (queue and job work).

Locally the token is minted with the local issuer's signing key (dev/test
only; settings refuse the local provider in staging/prod) for the subject
``service:notification``: it passes every service's verifier like any access
token, and cannot collide with a user id. With Cognito it is an OAuth2
client-credentials token of the service's own app client.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization

from libs.auth.caller import INTERNAL_SCOPE
from libs.auth.jwks import thumbprint
from libs.settings import Settings, env_var

SUBJECT = "service:notification"
TTL_SECONDS = 900
REFRESH_BEFORE_SECONDS = 120


@dataclass
class _Cached:
    token: str = ""
    expires_at: float = 0.0


class ServiceToken:
    def __init__(self, settings: Settings, *, key_path: Path | None = None):
        self._settings = settings
        self._key_path = key_path or settings.data_dir / "auth" / "jwt-signing-key.pem"
        self._cached = _Cached()

    def token(self) -> str:
        if time.time() < self._cached.expires_at - REFRESH_BEFORE_SECONDS:
            return self._cached.token
        if self._settings.auth_provider == "local":
            token, ttl = self._mint_local()
        else:
            token, ttl = self._client_credentials()
        self._cached = _Cached(token, time.time() + ttl)
        return token

    def metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.token()}")]

    def _mint_local(self) -> tuple[str, int]:
        key = serialization.load_pem_private_key(self._key_path.read_bytes(), password=None)
        public_jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))  # type: ignore[arg-type]
        now = int(time.time())
        claims = {
            "iss": self._settings.jwt_issuer,
            "sub": SUBJECT,
            "client_id": self._settings.jwt_client_id,
            "token_use": "access",
            "scope": INTERNAL_SCOPE,
            "iat": now,
            "exp": now + TTL_SECONDS,
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": thumbprint(public_jwk)})  # type: ignore[arg-type]
        return token, TTL_SECONDS

    def _client_credentials(self) -> tuple[str, int]:
        url = env_var("HISAAB_SERVICE_TOKEN_URL")
        client_id = env_var("HISAAB_SERVICE_CLIENT_ID")
        secret = env_var("HISAAB_SERVICE_CLIENT_SECRET")
        if not (url and client_id and secret):
            raise RuntimeError(
                "HISAAB_SERVICE_TOKEN_URL, HISAAB_SERVICE_CLIENT_ID and "
                "HISAAB_SERVICE_CLIENT_SECRET are required"
            )
        answer = httpx.post(
            url,
            data={"grant_type": "client_credentials", "scope": INTERNAL_SCOPE},
            auth=(client_id, secret),
            timeout=10,
        )
        answer.raise_for_status()
        body = answer.json()
        return str(body["access_token"]), int(body.get("expires_in", 3600))
