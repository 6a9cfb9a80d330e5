"""group-service's ports in memory: its repositories (the GroupRepositories port, mirroring
the SQL in repository.py and preset_repository.py) and the other services it calls."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from libs.clients.rosters import Roster
from libs.db.repositories import MemoryRepositories
from libs.validation import is_uuid
from services.group.domain import Group, InviteLink, Kind, Member, MemberRemoval, Role
from services.group.ports import Profile
from services.group.presets import Preset, PresetSpec


class Ticks:
    """Timestamps and change ids that only go forward, one step per write (PostgreSQL's
    now() and pg_current_xact_id() are per transaction; a step per write keeps the same
    order, which is all the use cases rely on)."""

    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, tzinfo=UTC)
        self.xid = 1000

    def now(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at

    def next_xid(self) -> int:
        self.xid += 1
        return self.xid


class MemorySplitPresets:
    def __init__(self, ticks: Ticks) -> None:
        self._ticks = ticks
        self.rows: dict[str, Preset] = {}

    async def clear_default(self, group_id: str, *, except_id: str | None = None) -> None:
        for p in list(self.rows.values()):
            if p.group_id == group_id and p.spec.is_default and p.id != except_id:
                self.rows[p.id] = replace(
                    p,
                    spec=replace(p.spec, is_default=False),
                    version=p.version + 1,
                    updated_at=self._ticks.now(),
                )

    async def insert(self, group_id: str, spec: PresetSpec, creator: str) -> Preset:
        at = self._ticks.now()
        preset = Preset(str(uuid.uuid4()), group_id, spec, creator, 1, at, at)
        self.rows[preset.id] = preset
        return preset

    async def get(self, group_id: str, preset_id: str, *, lock: bool = False) -> Preset | None:
        if preset_id == "default":
            return next((p for p in self.rows.values() if p.group_id == group_id and p.spec.is_default), None)
        found = self.rows.get(preset_id) if is_uuid(preset_id) else None
        return found if found is not None and found.group_id == group_id else None

    async def page(self, group_id: str, *, after: list[Any] | None, limit: int) -> list[Preset]:
        def key(p: Preset) -> tuple[bool, str, str]:
            return (not p.spec.is_default, p.spec.display_name, p.id)

        found = sorted((p for p in self.rows.values() if p.group_id == group_id), key=key)
        if after:
            found = [p for p in found if key(p) > (bool(after[0]), str(after[1]), str(after[2]))]
        return found[:limit]

    async def update(self, preset_id: str, spec: PresetSpec) -> Preset:
        current = self.rows[preset_id]
        updated = replace(current, spec=spec, version=current.version + 1, updated_at=self._ticks.now())
        self.rows[preset_id] = updated
        return updated

    async def delete(self, preset_id: str) -> None:
        self.rows.pop(preset_id, None)


class MemoryGroupRepositories(MemoryRepositories):
    """The group tables in dicts. Groups are kept as stored (no member count, role or
    friend); those are filled in when a member reads one, as the SQL's join does."""

    def __init__(self) -> None:
        super().__init__()
        self.ticks = Ticks()
        self.presets = MemorySplitPresets(self.ticks)
        self.groups: dict[str, Group] = {}
        self.direct_keys: dict[str, str] = {}
        self.members_: dict[tuple[str, str], Member] = {}
        self.removals: dict[tuple[str, str], MemberRemoval] = {}
        self.links_: dict[str, InviteLink] = {}

    # -- groups -------------------------------------------------------------------------------

    def _of_group(self, group_id: str) -> list[Member]:
        return sorted(
            (m for (g, _), m in self.members_.items() if g == group_id),
            key=lambda m: (m.joined_at, m.user_id),
        )

    def _as_member(self, group: Group, caller: str) -> Group | None:
        mine = self.members_.get((group.id, caller))
        if mine is None:
            return None
        others = self._of_group(group.id)
        friend = next((m for m in others if m.user_id != caller), None) if group.kind is Kind.DIRECT else None
        return replace(
            group,
            member_count=len(others),
            my_role=mine.role,
            friend=friend.user_id if friend else "",
            friend_contact=(friend.invited_phone_number or friend.invited_email) if friend else "",
        )

    async def group_for_member(self, group_id: str, caller: str, *, lock: bool = False) -> Group | None:
        group = self.groups.get(group_id)
        return self._as_member(group, caller) if group is not None else None

    async def groups_of(
        self, caller: str, *, show_archived: bool, after: list[Any] | None, limit: int
    ) -> list[Group]:
        seen = [g for g in (self._as_member(x, caller) for x in self.groups.values()) if g is not None]
        seen = [g for g in seen if show_archived or not g.archived]
        if after:
            cut = (datetime.fromisoformat(after[0]), str(after[1]))
            seen = [g for g in seen if (g.updated_at, g.id) < cut]
        return sorted(seen, key=lambda g: (g.updated_at, g.id), reverse=True)[:limit]

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
        if direct_key is not None and direct_key in self.direct_keys:
            return None
        group_id, at = str(uuid.uuid4()), self.ticks.now()
        self.groups[group_id] = Group(
            id=group_id,
            display_name=display_name,
            kind=kind,
            description=description,
            default_currency=default_currency,
            simplify_debts=simplify_debts,
            archived=False,
            creator=creator,
            version=1,
            created_at=at,
            updated_at=at,
            member_count=0,
            my_role=None,
            change_key=(self.ticks.next_xid(), group_id),
        )
        if direct_key is not None:
            self.direct_keys[direct_key] = group_id
        return group_id

    async def direct_group_id(self, key: str) -> str | None:
        return self.direct_keys.get(key)

    async def update_group(self, group_id: str, changes: dict[str, Any], *, how: str = "updated") -> None:
        group = self.groups[group_id]
        self.groups[group_id] = replace(
            group,
            **changes,
            version=group.version + 1,
            updated_at=self.ticks.now(),
            last_change=how,
            change_key=(self.ticks.next_xid(), group_id),
        )

    async def touch_group(self, group_id: str) -> None:
        await self.update_group(group_id, {})

    # -- members ------------------------------------------------------------------------------

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
        if (group_id, user_id) in self.members_:
            return False
        at = self.ticks.now()
        self.members_[(group_id, user_id)] = Member(
            group_id=group_id,
            user_id=user_id,
            role=role,
            invited_phone_number=invited_phone_number,
            invited_email=invited_email,
            creator=creator,
            joined_at=at,
            last_change=how,
            changed_at=at,
            change_key=(self.ticks.next_xid(), f"{group_id}/{user_id}"),
        )
        self.removals.pop((group_id, user_id), None)
        return True

    async def members(
        self, group_id: str, *, after: list[Any] | None = None, limit: int = 1000
    ) -> list[Member]:
        found = self._of_group(group_id)
        if after:
            cut = (datetime.fromisoformat(after[0]), str(after[1]))
            found = [m for m in found if (m.joined_at, m.user_id) > cut]
        return found[:limit]

    async def member(self, group_id: str, user_id: str) -> Member | None:
        return self.members_.get((group_id, user_id))

    async def count_members(self, group_id: str) -> int:
        return len(self._of_group(group_id))

    async def count_owners(self, group_id: str) -> int:
        return sum(m.role is Role.OWNER for m in self._of_group(group_id))

    async def set_role(self, group_id: str, user_id: str, role: Role) -> None:
        key = (group_id, user_id)
        if key in self.members_:
            self.members_[key] = replace(
                self.members_[key],
                role=role,
                last_change="role_changed",
                changed_at=self.ticks.now(),
                change_key=(self.ticks.next_xid(), f"{group_id}/{user_id}"),
            )

    async def delete_member(self, group_id: str, user_id: str, *, how: str) -> bool:
        if self.members_.pop((group_id, user_id), None) is None:
            return False
        key = f"{group_id}/{user_id}"
        self.removals[(group_id, user_id)] = MemberRemoval(
            group_id, user_id, how, self.ticks.now(), (self.ticks.next_xid(), key)
        )
        return True

    async def roster(self, group_id: str) -> tuple[str, int, list[str]] | None:
        group = self.groups.get(group_id)
        if group is None:
            return None
        return group.kind.value, group.version, [m.user_id for m in self._of_group(group_id)]

    # -- invite links -------------------------------------------------------------------------

    async def insert_link(
        self, group_id: str, token: str, expires_at: datetime | None, creator: str
    ) -> InviteLink:
        link = InviteLink(str(uuid.uuid4()), group_id, token, expires_at, False, creator, self.ticks.now())
        self.links_[link.id] = link
        return link

    async def links(self, group_id: str, *, after: list[Any] | None, limit: int) -> list[InviteLink]:
        found = sorted(
            (x for x in self.links_.values() if x.group_id == group_id), key=lambda x: (x.created_at, x.id)
        )
        if after:
            cut = (datetime.fromisoformat(after[0]), str(after[1]))
            found = [x for x in found if (x.created_at, x.id) > cut]
        return found[:limit]

    async def link_by_id(self, group_id: str, link_id: str) -> InviteLink | None:
        link = self.links_.get(link_id)
        return link if link is not None and link.group_id == group_id else None

    async def link_by_token(self, token: str) -> InviteLink | None:
        return next((x for x in self.links_.values() if x.token == token), None)

    async def revoke_link(self, link_id: str) -> InviteLink:
        self.links_[link_id] = replace(self.links_[link_id], revoked=True)
        return self.links_[link_id]

    async def group_summary(self, group_id: str) -> tuple[str, Kind, int] | None:
        group = self.groups.get(group_id)
        if group is None:
            return None
        return group.display_name, group.kind, len(self._of_group(group_id))

    # -- change feed --------------------------------------------------------------------------

    async def group_ids_of(self, caller: str) -> list[str]:
        return sorted(g for (g, u) in self.members_ if u == caller)

    async def mark_profile_changed(self, user_id: str, changed_at: datetime) -> tuple[int, int]:
        mine = [
            k
            for k, m in self.members_.items()
            if k[1] == user_id and (m.changed_at or m.joined_at) <= changed_at
        ]
        xid, at = self.ticks.next_xid(), self.ticks.now()  # one transaction
        for group_id, _ in mine:
            self.members_[(group_id, user_id)] = replace(
                self.members_[(group_id, user_id)],
                last_change="profile_changed",
                changed_at=at,
                change_key=(xid, f"{group_id}/{user_id}"),
            )
        direct = [g for g, _ in mine if self.groups[g].kind is Kind.DIRECT]
        for group_id in direct:
            self.groups[group_id] = replace(
                self.groups[group_id], last_change="updated", change_key=(xid, group_id)
            )
        return len(mine), len(direct)

    async def changes_since(
        self,
        caller: str,
        group_ids: Sequence[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> list[Group | Member | MemberRemoval]:
        # Every write here is over (one unit of work at a time), so nothing waits.
        rows: list[Group | Member | MemberRemoval] = []
        for group_id in group_ids:
            group = self.groups.get(group_id)
            if group is not None:
                seen = self._as_member(group, caller)
                if seen is not None:  # the SQL reads a group through the caller's membership
                    rows.append(seen)
        rows += [m for (g, _), m in self.members_.items() if g in group_ids]
        rows += [r for (g, _), r in self.removals.items() if g in group_ids]
        rows = [
            r
            for r in rows
            if (after is None or r.change_key > after) and (upto is None or r.change_key <= upto)
        ]
        return sorted(rows, key=lambda r: r.change_key)[:limit]


class FakeUsers:
    """The user directory: known profiles, and placeholders made for new contacts."""

    def __init__(self) -> None:
        self.people: dict[str, Profile] = {}
        self.by_contact: dict[str, str] = {}
        self.fail = False

    def add(self, name: str) -> str:
        user = str(uuid.uuid4())
        self.people[user] = Profile(name, False)
        return user

    async def ensure(self, *, phone_number: str = "", email: str = "", display_name: str = "") -> str:
        if self.fail:
            raise ConnectionError("the directory is down")
        contact = phone_number or email
        if contact not in self.by_contact:
            self.by_contact[contact] = user = str(uuid.uuid4())
            self.people[user] = Profile(display_name, True)
        return self.by_contact[contact]

    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        return {u: self.people[u] for u in user_ids if u in self.people}


class FakeBalances:
    def __init__(self) -> None:
        self.unsettled: set[tuple[str, str]] = set()

    async def is_settled(self, group_id: str, user_id: str) -> bool:
        return (group_id, user_id) not in self.unsettled


class FakeRosters:
    def __init__(self) -> None:
        self.published: list[Roster] = []

    async def publish(self, roster: Roster) -> None:
        self.published.append(roster)
