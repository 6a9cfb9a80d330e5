"""What auth-service's use cases need from storage, as interfaces (the SQL adapter is
repository.SqlAuthRepositories; tests use an in-memory one)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from libs.idempotency import Keys
from libs.outbox import Outbox
from services.auth.domain import Challenge, Contact, DeviceRow, UserRow


class SignInCounters(Protocol):
    """The sign-in limits' windows (auth.sign_in_counters), as the throttle counts them."""

    async def take_from_window(
        self, scope: str, key: str, start: datetime, end: datetime, limit: int
    ) -> bool:
        """Counts one hit in the window unless it already holds ``limit``; False when full.
        Exact under concurrency: a window never exceeds its limit."""

    async def give_back(self, scope: str, key: str, start: datetime) -> None:
        """Returns one hit to the window (never below zero)."""

    async def forget_windows_before(self, instant: datetime) -> None:
        """Drops the windows that ended before ``instant``."""


class AuthRepositories(SignInCounters, Protocol):
    """Users, sign-in challenges, refresh tokens, devices and the sign-in counters, in one
    unit of work."""

    @property
    def keys(self) -> Keys: ...

    @property
    def outbox(self) -> Outbox: ...

    # --- users

    async def user_by_id(self, user_id: str) -> UserRow | None: ...

    async def users_by_ids(self, ids: list[str]) -> list[UserRow]:
        """The users that exist, in no particular order."""

    async def user_by_contact(self, contact: Contact, *, lock: bool = False) -> UserRow | None:
        """``lock`` holds the user until the unit of work ends."""

    async def insert_user(
        self, user_id: str, contact: Contact, *, state: str, display_name: str
    ) -> UserRow | None:
        """Insert unless the contact is already taken (a concurrent first sign-in); None then."""

    async def activate_user(self, user_id: str) -> None:
        """A placeholder becomes active: a new version."""

    async def update_user(self, user_id: str, changes: dict[str, str]) -> UserRow:
        """Sets the given profile fields (domain.USER_FIELDS): a new version."""

    # --- sign-in challenges

    async def lock_destination(self, contact: Contact) -> None:
        """Serialise sign-in starts for one destination until the unit of work ends."""

    async def insert_challenge(
        self,
        challenge_id: str,
        contact: Contact,
        code_hash: bytes | None,
        provider_state: str,
        expires_at: datetime,
    ) -> None: ...

    async def set_challenge_secret(
        self, challenge_id: str, code_hash: bytes | None, provider_state: str
    ) -> None:
        """What the provider needs to check the code, once the code is sent."""

    async def forget_challenge(self, challenge_id: str) -> None:
        """Drop a challenge whose code was never sent (its start failed before sending)."""

    async def recent_challenges(self, contact: Contact, since: datetime) -> tuple[datetime | None, int]:
        """When the newest challenge to the destination since ``since`` was made, and how many."""

    async def challenge_for_update(self, challenge_id: str) -> Challenge | None:
        """The challenge, held until the unit of work ends; None for an unknown or malformed id."""

    async def count_failed_attempt(self, challenge_id: str) -> None: ...

    async def consume_challenge(self, challenge_id: str) -> None: ...

    # --- refresh tokens (by digest, never the token itself)

    async def insert_refresh_token(self, digest: bytes, user_id: str, expires_at: datetime) -> None: ...

    async def live_refresh_token_owner(self, digest: bytes, now: datetime) -> str | None:
        """The user of a token neither revoked nor expired."""

    async def revoke_refresh_token(self, digest: bytes) -> bool:
        """False when it was unknown or revoked already."""

    # --- devices

    async def upsert_device(
        self, user_id: str, platform: str, push_token: str, app_version: str
    ) -> DeviceRow:
        """One device per user and push token: a repeat updates platform and app version."""

    async def devices_of(self, user_ids: list[str]) -> list[DeviceRow]:
        """Oldest first, then by id."""

    async def delete_device(self, user_id: str, device_id: str) -> bool:
        """False when the user has no such device (or the id is malformed)."""
