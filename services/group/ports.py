"""What group-service needs: from other services (adapters in peers.py) and from its own
tables (the repositories port; SQL in repository.py and preset_repository.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from libs.clients.rosters import Roster
from libs.idempotency import Keys
from libs.outbox import Outbox
from services.group.domain import Group, InviteLink, Kind, Member, MemberRemoval, Role
from services.group.presets import Preset, PresetSpec


@dataclass(frozen=True)
class Profile:
    display_name: str
    placeholder: bool


class UserDirectory(Protocol):
    async def ensure(self, *, phone_number: str = "", email: str = "", display_name: str = "") -> str:
        """The user id for a contact, creating a placeholder user when there is none."""

    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        """Profiles of existing users; unknown ids are absent."""


class Balances(Protocol):
    async def is_settled(self, group_id: str, user_id: str) -> bool:
        """Whether the user's balance in the group is zero in every currency."""


class Rosters(Protocol):
    async def publish(self, roster: Roster) -> None:
        """Hands a group's committed roster to the readers' cache (libs.clients.rosters)."""


class SplitPresets(Protocol):
    """``groups.split_presets``, inside the unit of work."""

    async def clear_default(self, group_id: str, *, except_id: str | None = None) -> None:
        """No preset of the group is the default any more (but ``except_id``)."""

    async def insert(self, group_id: str, spec: PresetSpec, creator: str) -> Preset: ...

    async def get(self, group_id: str, preset_id: str, *, lock: bool = False) -> Preset | None:
        """A preset by id, or the group's default for the alias ``default``; None for an
        id that names none (or is not a UUID)."""

    async def page(self, group_id: str, *, after: list[Any] | None, limit: int) -> list[Preset]:
        """The default first, then by display name and id."""

    async def update(self, preset_id: str, spec: PresetSpec) -> Preset:
        """Writes ``spec`` and bumps the version."""

    async def delete(self, preset_id: str) -> None: ...


class GroupRepositories(Protocol):
    """What the group use cases read and write, inside one unit of work. A group is seen
    as a member sees it (their role, the member count, a friend ledger's friend); a
    membership leaves a tombstone when it ends, for the change feed."""

    @property
    def keys(self) -> Keys: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def presets(self) -> SplitPresets: ...

    async def group_for_member(self, group_id: str, caller: str, *, lock: bool = False) -> Group | None:
        """The group as ``caller`` sees it; None when it does not exist or they are not a
        member. ``lock`` holds the group's row until the unit of work ends."""

    async def groups_of(
        self, caller: str, *, show_archived: bool, after: list[Any] | None, limit: int
    ) -> list[Group]:
        """The caller's groups, the latest updated first (ties by id, descending)."""

    async def insert_group(
        self,
        *,
        display_name: str,
        kind: Kind,
        description: str,
        default_currency: str,
        simplify_debts: bool,
        creator: str,
        direct_key: str | None = None,
    ) -> str | None:
        """The new group's id; None when a DIRECT group for this pair already exists."""

    async def direct_group_id(self, key: str) -> str | None: ...

    async def update_group(self, group_id: str, changes: dict[str, Any], *, how: str = "updated") -> None:
        """Apply ``changes`` and bump the version; ``how`` is what the change feed calls
        it ("updated", "archived", "unarchived")."""

    async def touch_group(self, group_id: str) -> None:
        """Bump the version (the roster's label) without changing a field."""

    async def insert_member(
        self,
        group_id: str,
        user_id: str,
        role: Role,
        creator: str,
        *,
        invited_phone_number: str = "",
        invited_email: str = "",
        how: str = "added",
    ) -> bool:
        """Insert the membership (``how``: "added" or "joined"); False when it exists
        already. A tombstone from an earlier leaving goes: the member is back."""

    async def members(
        self, group_id: str, *, after: list[Any] | None = None, limit: int = 1000
    ) -> list[Member]:
        """In joining order (ties by user id)."""

    async def member(self, group_id: str, user_id: str) -> Member | None: ...

    async def count_members(self, group_id: str) -> int: ...

    async def count_owners(self, group_id: str) -> int: ...

    async def set_role(self, group_id: str, user_id: str, role: Role) -> None: ...

    async def delete_member(self, group_id: str, user_id: str, *, how: str) -> bool:
        """Delete the membership, leaving a tombstone (``how``: "left" or "removed")."""

    async def roster(self, group_id: str) -> tuple[str, int, list[str]] | None:
        """(kind, version, member ids in joining order), the version labelling exactly
        these members; None when the group does not exist."""

    async def insert_link(
        self, group_id: str, token: str, expires_at: datetime | None, creator: str
    ) -> InviteLink: ...

    async def links(self, group_id: str, *, after: list[Any] | None, limit: int) -> list[InviteLink]:
        """Oldest first."""

    async def link_by_id(self, group_id: str, link_id: str) -> InviteLink | None: ...

    async def link_by_token(self, token: str) -> InviteLink | None: ...

    async def revoke_link(self, link_id: str) -> InviteLink:
        """Revoked from now on (an earlier revocation stands)."""

    async def group_summary(self, group_id: str) -> tuple[str, Kind, int] | None:
        """(display name, kind, member count) for an invite's preview."""

    async def group_ids_of(self, caller: str) -> list[str]: ...

    async def mark_profile_changed(self, user_id: str, changed_at: datetime) -> tuple[int, int]:
        """The user's profile changed at ``changed_at`` (their name, or they signed in and
        are no longer invited): write again ("profile_changed") each of their membership
        rows last written before then, and the friend ledgers (named after them) of those
        memberships, so the change feed hands them out again. A row written since already
        goes out with the new profile (the feed reads profiles when it hands rows out).
        (memberships, friend ledgers) marked; (0, 0) for a user in no group."""

    async def changes_since(
        self,
        caller: str,
        group_ids: Sequence[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> list[Group | Member | MemberRemoval]:
        """Groups (as ``caller`` sees them), memberships and tombstones written after
        ``after`` (and up to ``upto``) by units of work that are over, oldest first."""
