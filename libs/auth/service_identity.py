"""Each service's own identity: the token it presents to call a peer's internal methods.

A service proves who it is with an access token that carries the internal scope
and was issued to that service's own client id:

- with Cognito, each service has its own confidential app client and fetches an
  OAuth2 client-credentials token (``HISAAB_SERVICE_TOKEN_URL``, its client id
  in ``HISAAB_SERVICE_CLIENT_IDS`` and its secret in
  ``HISAAB_SERVICE_CLIENT_SECRET_<NAME>``); the token's ``client_id`` names the
  service, and no other service holds the secret;
- locally (dev/test only; settings refuse the local provider in staging/prod) the
  token is minted with the local issuer's signing key for the service's fixed
  local client id (``libs.settings``).

The receiver maps the client id back to a service name (``Settings.service_clients``,
``libs.auth.verifier``), so the name is proven by the issuer's signature, never
by a claim the caller chose. Tokens are cached until shortly before they expire:
one mint or token request per service every few minutes, not per call.
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

from libs.auth.caller import INTERNAL_SCOPE, subject
from libs.auth.jwks import thumbprint
from libs.settings import Settings, env_var

TTL_SECONDS = 900
REFRESH_BEFORE_SECONDS = 120


@dataclass
class _Cached:
    token: str = ""
    expires_at: float = 0.0


class ServiceToken:
    """The access token of one service (``settings.service.name`` unless ``service`` is given)."""

    def __init__(self, settings: Settings, *, service: str | None = None, key_path: Path | None = None):
        self._settings = settings
        self.service = service or settings.service.name
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

    def _client_id(self) -> str:
        return next((c for c, s in self._settings.service_clients.items() if s == self.service), "")

    def _mint_local(self) -> tuple[str, int]:
        key = serialization.load_pem_private_key(self._key_path.read_bytes(), password=None)
        public_jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))  # type: ignore[arg-type]
        now = int(time.time())
        claims = {
            "iss": self._settings.jwt_issuer,
            "sub": subject(self.service),
            "client_id": self._client_id(),
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
        client_id = self._client_id()
        secret = env_var("HISAAB_SERVICE_CLIENT_SECRET")
        if not (url and client_id and secret):
            raise RuntimeError(
                f"HISAAB_SERVICE_TOKEN_URL, {self.service}'s client id in HISAAB_SERVICE_CLIENT_IDS "
                "and HISAAB_SERVICE_CLIENT_SECRET are required"
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
