"""The local issuer for dev and test: our own codes, RS256 tokens with Cognito's claims.

Codes are "delivered" to a JSON-lines file in the data directory (and the log)
so a developer can read them; settings refuse this provider in staging/prod.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from libs.auth.jwks import thumbprint
from services.auth.domain import (
    ACCESS_TOKEN_TTL,
    Challenge,
    Contact,
    code_matches,
    hash_code,
    new_code,
    new_refresh_token,
)
from services.auth.providers import CodeRejected, Started, Tokens

log = logging.getLogger("hisaab.auth.local")


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.replace(tmp, path)  # atomic: two processes starting at once agree on one key
    return _load_or_create_key(path)


def _load_or_create_secret(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


class LocalIssuer:
    def __init__(self, data_dir: Path, *, issuer: str, client_id: str):
        self._dir = data_dir / "auth"
        self._key = _load_or_create_key(self._dir / "jwt-signing-key.pem")
        self._pepper = _load_or_create_secret(self._dir / "otp-pepper")
        self._issuer = issuer
        self._client_id = client_id
        public_jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        self._kid = thumbprint(public_jwk)
        self._jwk = {**public_jwk, "kid": self._kid, "use": "sig", "alg": "RS256"}
        self.outbox = data_dir / "dev-otp.jsonl"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._jwk]}

    async def subject_for(self, contact: Contact) -> str:
        return str(uuid.uuid4())

    async def start(self, challenge_id: str, contact: Contact, subject: str, locale: str) -> Started:
        code = new_code()
        self._deliver(contact, code)
        return Started(code_hash=hash_code(self._pepper, challenge_id, code), provider_state="")

    async def verify(self, challenge: Challenge, subject: str, code: str, user: dict[str, Any]) -> Tokens:
        if challenge.code_hash is None or not code_matches(
            self._pepper, challenge.id, code, challenge.code_hash
        ):
            raise CodeRejected
        return self._mint(subject, user, refresh=True)

    async def refresh(self, refresh_token: str, subject: str, user: dict[str, Any]) -> Tokens:
        return self._mint(subject, user, refresh=False)

    async def revoke(self, refresh_token: str) -> None:
        return None  # refresh tokens live in our database; the use case revokes them there

    def mint_access_token(self, subject: str, *, ttl_seconds: int | None = None, **overrides: Any) -> str:
        now = int(time.time())
        ttl = ttl_seconds if ttl_seconds is not None else int(ACCESS_TOKEN_TTL.total_seconds())
        claims = {
            "iss": self._issuer,
            "sub": subject,
            "client_id": self._client_id,
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": now,
            "iat": now,
            "exp": now + ttl,
            "jti": str(uuid.uuid4()),
            "username": subject,
        }
        claims.update(overrides)
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})

    def _mint(self, subject: str, user: dict[str, Any], *, refresh: bool) -> Tokens:
        now = int(time.time())
        ttl = int(ACCESS_TOKEN_TTL.total_seconds())
        id_claims = {
            "iss": self._issuer,
            "sub": subject,
            "aud": self._client_id,
            "token_use": "id",
            "auth_time": now,
            "iat": now,
            "exp": now + ttl,
            "jti": str(uuid.uuid4()),
            "cognito:username": subject,
        }
        if user.get("phone_number"):
            id_claims |= {"phone_number": user["phone_number"], "phone_number_verified": True}
        if user.get("email"):
            id_claims |= {"email": user["email"], "email_verified": True}
        return Tokens(
            access_token=self.mint_access_token(subject),
            id_token=jwt.encode(id_claims, self._key, algorithm="RS256", headers={"kid": self._kid}),
            refresh_token=new_refresh_token() if refresh else "",
            expires_in=ttl,
        )

    def _deliver(self, contact: Contact, code: str) -> None:
        record = {
            "destination": contact.value,
            "channel": contact.channel.value,
            "code": code,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with self.outbox.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        log.warning("dev sign-in code", extra={"destination": contact.value, "code": code})
