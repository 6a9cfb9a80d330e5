"""Group rules: kinds, roles, who may do what. Pure; no I/O."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from libs.errors import FailedPrecondition, NotAllowed

MAX_MEMBERS = 200
INVITE_TOKEN_BYTES = 18
# What UpdateGroup may change.
GROUP_FIELDS = ("display_name", "description", "default_currency", "simplify_debts")


class Kind(Enum):
    TRIP = "trip"
    HOME = "home"
    COUPLE = "couple"
    OTHER = "other"
    DIRECT = "direct"


class Role(Enum):
    OWNER = "owner"
    MEMBER = "member"


@dataclass(frozen=True)
class Group:
    id: str
    display_name: str
    kind: Kind
    description: str
    default_currency: str
    simplify_debts: bool
    archived: bool
    creator: str
    version: int
    created_at: datetime
    updated_at: datetime
    member_count: int
    my_role: Role | None
    # For a friend ledger, as seen by the member who read it: the other person, and the
    # phone number or email they were added by (until they choose a name of their own).
    friend: str = ""
    friend_contact: str = ""
    # How it last changed ("created", "updated", "archived", "unarchived") and its place in
    # the change feed: (writing transaction, id).
    last_change: str = "created"
    change_key: tuple[int, str] = (0, "")

    @property
    def name(self) -> str:
        return f"groups/{self.id}"

    def as_seen(self, friend_name: str) -> Group:
        """A friend ledger has no name of its own: it is shown as the friend."""
        if not self.friend:
            return self
        return replace(self, display_name=friend_name or self.friend_contact or self.display_name)


@dataclass(frozen=True)
class Member:
    group_id: str
    user_id: str
    role: Role
    invited_phone_number: str
    invited_email: str
    creator: str
    joined_at: datetime
    # How the membership last changed ("added", "joined", "role_changed"), when, and its
    # place in the change feed.
    last_change: str = "added"
    changed_at: datetime | None = None
    change_key: tuple[int, str] = (0, "")

    @property
    def name(self) -> str:
        return f"groups/{self.group_id}/members/{self.user_id}"


@dataclass(frozen=True)
class MemberRemoval:
    """The tombstone of a member who left ("left") or was removed ("removed")."""

    group_id: str
    user_id: str
    how: str
    removed_at: datetime
    change_key: tuple[int, str]

    @property
    def name(self) -> str:
        return f"groups/{self.group_id}/members/{self.user_id}"


@dataclass(frozen=True)
class InviteLink:
    id: str
    group_id: str
    token: str
    expires_at: datetime | None
    revoked: bool
    creator: str
    created_at: datetime

    def usable(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


def direct_key(a: str, b: str) -> str:
    low, high = sorted((a, b))
    return f"{low}|{high}"


def new_invite_token() -> str:
    return secrets.token_urlsafe(INVITE_TOKEN_BYTES)


_TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def could_be_invite_token(token: str) -> bool:
    """False for text no link was ever given (new_invite_token is URL-safe base64), so it is
    refused before the lookup: a NUL byte, for one, cannot even be sent to PostgreSQL."""
    return bool(token) and set(token) <= _TOKEN_ALPHABET


def require_owner(group: Group) -> None:
    if group.my_role is not Role.OWNER:
        raise NotAllowed("only an owner of the group can do this")


def require_not_direct(group: Group, what: str) -> None:
    if group.kind is Kind.DIRECT:
        raise FailedPrecondition(f"a friend ledger always has exactly two people; cannot {what}")


def check_owner_remains(owners_after: int) -> None:
    if owners_after < 1:
        raise FailedPrecondition("a group needs at least one owner; make someone else an owner first")
