"""Identity providers: who checks the code and signs the tokens (local issuer or Cognito)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from services.auth.domain import Challenge, Contact


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class Started:
    code_hash: bytes | None  # set when we check the code ourselves
    provider_state: str  # e.g. the Cognito session


class CodeRejected(Exception):
    """The provider says the code is wrong."""


class IdentityProvider(Protocol):
    async def subject_for(self, contact: Contact) -> str:
        """The stable subject (user id) for a contact, creating the identity if needed."""

    async def start(self, challenge_id: str, contact: Contact, subject: str, locale: str) -> Started: ...

    async def verify(self, challenge: Challenge, subject: str, code: str, user: dict[str, Any]) -> Tokens: ...

    async def refresh(self, refresh_token: str, subject: str, user: dict[str, Any]) -> Tokens: ...

    async def revoke(self, refresh_token: str) -> None: ...

    def jwks(self) -> dict[str, Any] | None:
        """The public key set, when this provider signs tokens itself."""
