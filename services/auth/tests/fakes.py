"""In-memory stand-ins for auth-service's ports: its repositories (the same rules as
repository.SqlAuthRepositories) and an identity provider with a known code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from libs import clock
from libs.db.repositories import MemoryRepositories
from services.auth.domain import USER_FIELDS, Challenge, Contact, DeviceRow, UserRow
from services.auth.providers import CodeRejected, Started, Tokens


@dataclass(frozen=True)
class Counter:
    end: datetime
    hits: int


@dataclass(frozen=True)
class RefreshToken:
    user_id: str
    expires_at: datetime
    revoked: bool = False


@dataclass(frozen=True)
class StoredChallenge:
    challenge: Challenge
    created_at: datetime


class MemoryAuthRepositories(MemoryRepositories):
    """``now`` stands for the database's clock (its now()), which the use cases' clock follows."""

    def __init__(self, now: clock.Clock = clock.now) -> None:
        super().__init__()
        self.now = now
        self.users: dict[str, UserRow] = {}
        self.challenges: dict[str, StoredChallenge] = {}
        self.refresh_tokens: dict[bytes, RefreshToken] = {}
        self.devices: dict[str, DeviceRow] = {}
        # (scope, key, window start) → the window's end and hits
        self.counters: dict[tuple[str, str, datetime], Counter] = {}
        self.locked_destinations: list[str] = []

    # --- sign-in counters

    async def take_from_window(
        self, scope: str, key: str, start: datetime, end: datetime, limit: int
    ) -> bool:
        found = self.counters.get((scope, key, start))
        if found is None:
            self.counters[(scope, key, start)] = Counter(end, 1)
            return True
        if found.hits >= limit:
            return False
        self.counters[(scope, key, start)] = replace(found, hits=found.hits + 1)
        return True

    async def give_back(self, scope: str, key: str, start: datetime) -> None:
        found = self.counters.get((scope, key, start))
        if found is not None and found.hits > 0:
            self.counters[(scope, key, start)] = replace(found, hits=found.hits - 1)

    async def forget_windows_before(self, instant: datetime) -> None:
        self.counters = {k: c for k, c in self.counters.items() if c.end >= instant}

    # --- users

    async def user_by_id(self, user_id: str) -> UserRow | None:
        return self.users.get(user_id)

    async def users_by_ids(self, ids: list[str]) -> list[UserRow]:
        return [self.users[i] for i in ids if i in self.users]

    async def user_by_contact(self, contact: Contact, *, lock: bool = False) -> UserRow | None:
        return next((u for u in self.users.values() if contact.value in (u.phone_number, u.email)), None)

    async def insert_user(
        self, user_id: str, contact: Contact, *, state: str, display_name: str
    ) -> UserRow | None:
        if user_id in self.users or await self.user_by_contact(contact) is not None:
            return None
        now = self.now()
        sms = contact.channel.value == "sms"
        self.users[user_id] = UserRow(
            id=user_id,
            phone_number=contact.value if sms else None,
            email=None if sms else contact.value,
            display_name=display_name,
            default_currency="INR",
            locale="en-IN",
            upi_vpa="",
            state=state,
            version=1,
            created_at=now,
            updated_at=now,
        )
        return self.users[user_id]

    async def activate_user(self, user_id: str) -> None:
        user = self.users[user_id]
        self.users[user_id] = replace(user, state="active", version=user.version + 1, updated_at=self.now())

    async def update_user(self, user_id: str, changes: dict[str, str]) -> UserRow:
        user = self.users[user_id]
        fields: dict[str, Any] = {k: v for k, v in changes.items() if k in USER_FIELDS}
        fields |= {"version": user.version + 1, "updated_at": self.now()}
        self.users[user_id] = replace(user, **fields)
        return self.users[user_id]

    # --- sign-in challenges

    async def lock_destination(self, contact: Contact) -> None:
        self.locked_destinations.append(contact.value)

    async def insert_challenge(
        self,
        challenge_id: str,
        contact: Contact,
        code_hash: bytes | None,
        provider_state: str,
        expires_at: datetime,
    ) -> None:
        challenge = Challenge(challenge_id, contact, code_hash, provider_state, 0, expires_at, False)
        self.challenges[challenge_id] = StoredChallenge(challenge, self.now())

    async def set_challenge_secret(
        self, challenge_id: str, code_hash: bytes | None, provider_state: str
    ) -> None:
        stored = self.challenges[challenge_id]
        self.challenges[challenge_id] = replace(
            stored, challenge=replace(stored.challenge, code_hash=code_hash, provider_state=provider_state)
        )

    async def forget_challenge(self, challenge_id: str) -> None:
        self.challenges.pop(challenge_id, None)

    async def recent_challenges(self, contact: Contact, since: datetime) -> tuple[datetime | None, int]:
        times = [
            s.created_at
            for s in self.challenges.values()
            if s.challenge.contact.value == contact.value and s.created_at >= since
        ]
        return (max(times) if times else None), len(times)

    async def challenge_for_update(self, challenge_id: str) -> Challenge | None:
        stored = self.challenges.get(challenge_id)
        return stored.challenge if stored else None

    async def count_failed_attempt(self, challenge_id: str) -> None:
        stored = self.challenges[challenge_id]
        challenge = replace(stored.challenge, attempts=stored.challenge.attempts + 1)
        self.challenges[challenge_id] = replace(stored, challenge=challenge)

    async def consume_challenge(self, challenge_id: str) -> None:
        stored = self.challenges[challenge_id]
        self.challenges[challenge_id] = replace(stored, challenge=replace(stored.challenge, consumed=True))

    # --- refresh tokens

    async def insert_refresh_token(self, digest: bytes, user_id: str, expires_at: datetime) -> None:
        self.refresh_tokens[digest] = RefreshToken(user_id, expires_at)

    async def live_refresh_token_owner(self, digest: bytes, now: datetime) -> str | None:
        token = self.refresh_tokens.get(digest)
        if token is None or token.revoked or token.expires_at <= now:
            return None
        return token.user_id

    async def revoke_refresh_token(self, digest: bytes) -> bool:
        token = self.refresh_tokens.get(digest)
        if token is None or token.revoked:
            return False
        self.refresh_tokens[digest] = replace(token, revoked=True)
        return True

    # --- devices

    async def upsert_device(
        self, user_id: str, platform: str, push_token: str, app_version: str
    ) -> DeviceRow:
        existing = next(
            (d for d in self.devices.values() if d.user_id == user_id and d.push_token == push_token), None
        )
        if existing is not None:
            device = replace(existing, platform=platform, app_version=app_version)
        else:
            device = DeviceRow(str(uuid.uuid4()), user_id, platform, push_token, app_version, self.now())
        self.devices[device.id] = device
        return device

    async def devices_of(self, user_ids: list[str]) -> list[DeviceRow]:
        found = [d for d in self.devices.values() if d.user_id in user_ids]
        return sorted(found, key=lambda d: (d.created_at, d.id))

    async def delete_device(self, user_id: str, device_id: str) -> bool:
        device = self.devices.get(device_id)
        if device is None or device.user_id != user_id:
            return False
        del self.devices[device_id]
        return True


class FakeProvider:
    """Accepts ``code`` only; a contact's subject is derived from it, so it is stable."""

    def __init__(self, code: str = "123456"):
        self.code = code
        self.started: list[str] = []
        self.revoked: list[str] = []

    async def subject_for(self, contact: Contact) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, contact.value))

    async def start(self, challenge_id: str, contact: Contact, subject: str, locale: str) -> Started:
        self.started.append(challenge_id)
        return Started(None, f"state-{challenge_id}")

    async def verify(self, challenge: Challenge, subject: str, code: str, user: dict[str, Any]) -> Tokens:
        if code != self.code:
            raise CodeRejected()
        return Tokens(f"access-{subject}", f"id-{subject}", f"refresh-{uuid.uuid4()}", 3600)

    async def refresh(self, refresh_token: str, subject: str, user: dict[str, Any]) -> Tokens:
        return Tokens(f"access-{subject}", f"id-{subject}", "", 3600)

    async def revoke(self, refresh_token: str) -> None:
        self.revoked.append(refresh_token)

    def jwks(self) -> dict[str, Any] | None:
        return None
