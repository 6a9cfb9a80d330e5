"""Group use cases. Membership is checked here: a non-member is told the group does not exist."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hisaab.events.v1 import events_pb2 as ev

from libs import etag
from libs.clients.rosters import Roster
from libs.clock import Clock, now
from libs.db.unit_of_work import UnitOfWork
from libs.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from libs.idempotency import M, Once
from libs.names import GROUP_NOT_FOUND
from services.group import domain
from services.group.domain import Group, InviteLink, Kind, Member, MemberRemoval, Role
from services.group.ports import Balances, GroupRepositories, Profile, Rosters, UserDirectory

NOT_FOUND = GROUP_NOT_FOUND


@dataclass(frozen=True)
class Invitee:
    user_id: str = ""
    phone_number: str = ""
    email: str = ""
    display_name: str = ""


class GroupUseCases:
    def __init__(
        self,
        uow: UnitOfWork[GroupRepositories],
        users: UserDirectory,
        balances: Balances,
        rosters: Rosters,
        *,
        clock: Clock = now,
    ):
        self._uow = uow
        self._users = users
        self._balances = balances
        self._rosters = rosters
        self._now = clock

    async def _visible(
        self, repos: GroupRepositories, group_id: str, caller: str, *, lock: bool = False
    ) -> Group:
        group = await repos.group_for_member(group_id, caller, lock=lock)
        if group is None:
            raise NotFound(NOT_FOUND)
        return group

    async def create(
        self,
        caller: str,
        fields: dict[str, Any],
        once: Once[GroupRepositories, M],
        present: Callable[[Group], M],
    ) -> M:
        """CreateGroup: the group with its creator as owner, once per request_id."""

        async def work(repos: GroupRepositories) -> M:
            group_id = await repos.insert_group(creator=caller, **fields)
            assert group_id is not None
            await repos.insert_member(group_id, caller, Role.OWNER, caller)
            created = ev.GroupChanged(group=group_id, change=ev.CREATED, display_name=fields["display_name"])
            await repos.outbox.record(created, f"groups/{group_id}", actor=caller)
            return present(await self._visible(repos, group_id, caller))

        return await once(work)

    async def get(self, caller: str, group_id: str) -> Group:
        async with self._uow.transaction() as repos:
            group = await self._visible(repos, group_id, caller)
        return (await self._as_seen([group]))[0]

    async def list_groups(
        self, caller: str, *, show_archived: bool, after: list[Any] | None, limit: int
    ) -> list[Group]:
        async with self._uow.transaction() as repos:
            groups = await repos.groups_of(caller, show_archived=show_archived, after=after, limit=limit)
        return await self._as_seen(groups)

    async def _as_seen(self, groups: list[Group]) -> list[Group]:
        """Friend ledgers named after the friend, with one directory call for the page."""
        friends = sorted({g.friend for g in groups if g.friend})
        profiles = await self._users.profiles(friends) if friends else {}
        return [g.as_seen(p.display_name if (p := profiles.get(g.friend)) else "") for g in groups]

    async def update(self, caller: str, group_id: str, changes: dict[str, Any], sent_etag: str) -> Group:
        async with self._uow.transaction() as repos:
            group = await self._visible(repos, group_id, caller, lock=True)
            etag.check(sent_etag, group.name, group.version)
            if changes:
                await repos.update_group(group_id, changes)
                await repos.outbox.record(
                    ev.GroupChanged(
                        group=group_id,
                        change=ev.UPDATED,
                        fields=sorted(changes),
                        display_name=changes.get("display_name", ""),
                    ),
                    group.name,
                    actor=caller,
                )
            return await self._visible(repos, group_id, caller)

    async def set_archived(self, caller: str, group_id: str, archived: bool, sent_etag: str) -> Group:
        async with self._uow.transaction() as repos:
            group = await self._visible(repos, group_id, caller, lock=True)
            etag.check(sent_etag, group.name, group.version)
            domain.require_owner(group)
            if group.archived != archived:
                how = "archived" if archived else "unarchived"
                await repos.update_group(group_id, {"archived": archived}, how=how)
            return await self._visible(repos, group_id, caller)

    async def open_direct(self, caller: str, friend: Invitee, default_currency: str) -> Group:
        friend_id = await self._resolve(friend)
        if friend_id == caller:
            raise InvalidArgument("user", "a friend ledger needs another person")
        key = domain.direct_key(caller, friend_id)
        async with self._uow.transaction() as repos:
            group_id = await repos.insert_group(
                display_name="",
                kind=Kind.DIRECT,
                description="",
                default_currency=default_currency,
                simplify_debts=False,
                creator=caller,
                direct_key=key,
            )
            if group_id is None:
                group_id = await repos.direct_group_id(key)
                assert group_id is not None
            else:
                await repos.insert_member(group_id, caller, Role.OWNER, caller)
                await repos.insert_member(
                    group_id,
                    friend_id,
                    Role.OWNER,
                    caller,
                    invited_phone_number=friend.phone_number,
                    invited_email=friend.email,
                )
                created = ev.GroupChanged(group=group_id, change=ev.CREATED)
                await repos.outbox.record(created, f"groups/{group_id}", actor=caller)
            group = await self._visible(repos, group_id, caller)
        return (await self._as_seen([group]))[0]

    async def _resolve(self, invitee: Invitee) -> str:
        if invitee.user_id:
            if invitee.user_id not in await self._users.profiles([invitee.user_id]):
                raise NotFound("user not found")
            return invitee.user_id
        return await self._users.ensure(
            phone_number=invitee.phone_number, email=invitee.email, display_name=invitee.display_name
        )

    async def members(
        self, caller: str, group_id: str, *, after: list[Any] | None, limit: int
    ) -> tuple[list[Member], dict[str, Profile]]:
        async with self._uow.transaction() as repos:
            await self._visible(repos, group_id, caller)
            found = await repos.members(group_id, after=after, limit=limit)
        return found, await self._users.profiles([m.user_id for m in found])

    async def _check_adding(
        self, repos: GroupRepositories, caller: str, group_id: str, role: Role, *, lock: bool
    ) -> Group:
        group = await self._visible(repos, group_id, caller, lock=lock)
        domain.require_not_direct(group, "add members")
        if role is Role.OWNER:
            domain.require_owner(group)
        if group.member_count >= domain.MAX_MEMBERS:
            raise FailedPrecondition(f"a group has at most {domain.MAX_MEMBERS} members")
        return group

    async def add_member(
        self,
        caller: str,
        group_id: str,
        invitee: Invitee,
        role: Role,
        once: Once[GroupRepositories, M],
        present: Callable[[Member, Profile | None], M],
    ) -> M:
        """AddMember. The invitee is looked up (or created as a placeholder) in the user
        directory between the checks and the transaction, so no row lock waits on the
        network; the checks run again under the lock. The roster is published after."""
        async with self._uow.transaction() as repos:
            await self._check_adding(repos, caller, group_id, role, lock=False)
        user_id = await self._resolve(invitee)
        profile = (await self._users.profiles([user_id])).get(user_id)

        async def work(repos: GroupRepositories) -> M:
            member = await self._insert_member(repos, caller, group_id, invitee, role, user_id)
            return present(member, profile)

        added = await once(work)
        await self.publish_roster(group_id)
        return added

    async def _insert_member(
        self, repos: GroupRepositories, caller: str, group_id: str, invitee: Invitee, role: Role, user_id: str
    ) -> Member:
        group = await self._check_adding(repos, caller, group_id, role, lock=True)
        added = await repos.insert_member(
            group_id,
            user_id,
            role,
            caller,
            invited_phone_number=invitee.phone_number,
            invited_email=invitee.email,
        )
        if not added:
            raise AlreadyExists("already a member of this group")
        await repos.touch_group(group_id)
        await repos.outbox.record(
            ev.MemberChanged(group=group_id, user=user_id, change=ev.ADDED), group.name, actor=caller
        )
        found = await repos.member(group_id, user_id)
        assert found is not None
        return found

    async def set_role(
        self, caller: str, group_id: str, user_id: str, role: Role, sent_etag: str = ""
    ) -> tuple[Member, Profile | None]:
        """UpdateMember: an owner changes a role; the member comes back with their profile,
        asked of the directory after the commit."""
        member = await self._set_role(caller, group_id, user_id, role, sent_etag)
        return member, (await self._users.profiles([user_id])).get(user_id)

    async def _set_role(self, caller: str, group_id: str, user_id: str, role: Role, sent_etag: str) -> Member:
        async with self._uow.transaction() as repos:
            group = await self._visible(repos, group_id, caller, lock=True)
            domain.require_owner(group)
            domain.require_not_direct(group, "change roles")
            target = await repos.member(group_id, user_id)
            if target is None:
                raise NotFound("member not found")
            etag.check(sent_etag, f"groups/{group_id}/members/{user_id}", target.role.value)
            if target.role is Role.OWNER and role is Role.MEMBER:
                domain.check_owner_remains(await repos.count_owners(group_id) - 1)
            await repos.set_role(group_id, user_id, role)
            await repos.touch_group(group_id)
            updated = await repos.member(group_id, user_id)
            assert updated is not None
            return updated

    async def _check_removal(
        self, repos: GroupRepositories, caller: str, group_id: str, user_id: str, *, lock: bool
    ) -> Group:
        group = await self._visible(repos, group_id, caller, lock=lock)
        domain.require_not_direct(group, "leave or remove members")
        if user_id != caller:
            domain.require_owner(group)
        target = await repos.member(group_id, user_id)
        if target is None:
            raise NotFound("member not found")
        if target.role is Role.OWNER and group.member_count > 1:
            domain.check_owner_remains(await repos.count_owners(group_id) - 1)
        return group

    async def remove(self, caller: str, group_id: str, user_id: str) -> None:
        """Remove ``user_id`` (an owner removing someone, or anyone leaving), then publish
        the group's roster. The balance is asked of settlement-service between two
        transactions, so no row lock waits on the network; the checks run again under
        the lock."""
        async with self._uow.transaction() as repos:
            await self._check_removal(repos, caller, group_id, user_id, lock=False)
        if not await self._balances.is_settled(group_id, user_id):
            raise FailedPrecondition(
                "settle up first: the balance in this group is not zero", reason="BALANCE_NOT_SETTLED"
            )
        async with self._uow.transaction() as repos:
            group = await self._check_removal(repos, caller, group_id, user_id, lock=True)
            leaving = user_id == caller
            await repos.delete_member(group_id, user_id, how="left" if leaving else "removed")
            await repos.touch_group(group_id)
            change = ev.LEFT if leaving else ev.REMOVED
            event = ev.MemberChanged(group=group_id, user=user_id, change=change)
            await repos.outbox.record(event, group.name, actor=caller)
        await self.publish_roster(group_id)

    async def create_link(
        self,
        caller: str,
        group_id: str,
        expires_at: datetime | None,
        once: Once[GroupRepositories, M],
        present: Callable[[InviteLink], M],
    ) -> M:
        """CreateInviteLink, once per request_id: any member of a group (not a friend
        ledger) may make one."""

        async def work(repos: GroupRepositories) -> M:
            group = await self._visible(repos, group_id, caller)
            domain.require_not_direct(group, "invite by link")
            if expires_at is not None and expires_at <= self._now():
                raise InvalidArgument("invite_link.expire_time", "must be in the future")
            return present(await repos.insert_link(group_id, domain.new_invite_token(), expires_at, caller))

        return await once(work)

    async def links(
        self, caller: str, group_id: str, *, after: list[Any] | None, limit: int
    ) -> list[InviteLink]:
        async with self._uow.transaction() as repos:
            await self._visible(repos, group_id, caller)
            return await repos.links(group_id, after=after, limit=limit)

    async def revoke_link(self, caller: str, group_id: str, link_id: str) -> InviteLink:
        async with self._uow.transaction() as repos:
            group = await self._visible(repos, group_id, caller)
            link = await repos.link_by_id(group_id, link_id)
            if link is None:
                raise NotFound("invite link not found")
            if link.creator != caller:
                domain.require_owner(group)
            return await repos.revoke_link(link_id)

    async def _usable_link(self, repos: GroupRepositories, token: str) -> InviteLink:
        link = await repos.link_by_token(token) if domain.could_be_invite_token(token) else None
        if link is None or not link.usable(self._now()):
            raise NotFound("this invite link is not valid any more", reason="INVITE_INVALID")
        return link

    async def preview(self, caller: str, token: str) -> tuple[InviteLink, str, Kind, int, bool]:
        async with self._uow.transaction() as repos:
            link = await self._usable_link(repos, token)
            summary = await repos.group_summary(link.group_id)
            assert summary is not None
            already = await repos.member(link.group_id, caller) is not None
        return link, summary[0], summary[1], summary[2], already

    async def join(self, caller: str, token: str) -> Group:
        """Join through an invite link, then publish the group's roster."""
        async with self._uow.transaction() as repos:
            link = await self._usable_link(repos, token)
            if await repos.count_members(link.group_id) >= domain.MAX_MEMBERS:
                raise FailedPrecondition(f"a group has at most {domain.MAX_MEMBERS} members")
            if await repos.insert_member(link.group_id, caller, Role.MEMBER, link.creator, how="joined"):
                await repos.touch_group(link.group_id)
                await repos.outbox.record(
                    ev.MemberChanged(group=link.group_id, user=caller, change=ev.JOINED),
                    f"groups/{link.group_id}",
                    actor=caller,
                )
            group = await self._visible(repos, link.group_id, caller)
        await self.publish_roster(group.id)
        return group

    async def feed_groups(self, caller: str, group_id: str, *, resuming: bool) -> list[str]:
        """The groups a change feed covers now. A client resuming a one-group feed after
        losing access gets an empty set (and so ACCESS_REVOKED), not NOT_FOUND."""
        async with self._uow.transaction() as repos:
            if group_id == "-":
                return await repos.group_ids_of(caller)
            if await repos.group_for_member(group_id, caller) is not None:
                return [group_id]
        if resuming:
            return []
        raise NotFound(NOT_FOUND)

    async def changes(
        self,
        caller: str,
        group_ids: list[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> tuple[list[Group | Member | MemberRemoval], dict[str, Profile]]:
        """A page of the change feed, with the profiles of the members in it. Friend
        ledgers are named after the friend, as everywhere."""
        if not group_ids:
            return [], {}
        # On the writer: the feed's "every older transaction is over" test needs the
        # primary's view of running transactions.
        async with self._uow.transaction() as repos:
            rows = await repos.changes_since(caller, group_ids, after, upto, limit)
        seen = iter(await self._as_seen([r for r in rows if isinstance(r, Group)]))
        rows = [next(seen) if isinstance(r, Group) else r for r in rows]
        users = sorted({r.user_id for r in rows if isinstance(r, Member)})
        return rows, (await self._users.profiles(users) if users else {})

    async def publish_roster(self, group_id: str) -> Roster | None:
        """Read the roster from the writer (never a lagging replica) and publish it; None
        when the group does not exist. Called after every committed membership change."""
        async with self._uow.transaction() as repos:
            found = await repos.roster(group_id)
        if found is None:
            return None
        kind, version, user_ids = found
        profiles = await self._users.profiles(user_ids)
        roster = Roster(
            group_id=group_id,
            kind=kind,
            version=version,
            names={u: (p.display_name if (p := profiles.get(u)) else "") for u in user_ids},
        )
        await self._rosters.publish(roster)
        return roster

    async def roster(self, group_id: str, viewer: str | None) -> Roster:
        """The roster for ``viewer`` (None: an internal service, who may see any group)."""
        roster = await self.publish_roster(group_id)
        if roster is None or (viewer is not None and viewer not in roster.names):
            raise NotFound(NOT_FOUND)
        return roster


class ProfileChanges:
    """A person's profile changed in auth-service (``user.updated``, ``user.activated``):
    their member rows show it (display name, ACTIVE or INVITED), and so do the friend
    ledgers named after them. Run by the group worker for each such event."""

    def __init__(self, uow: UnitOfWork[GroupRepositories]):
        self._uow = uow

    async def mark(self, user_id: str, changed_at: datetime) -> tuple[int, int]:
        """Write again, in one transaction, the user's membership rows (and their friend
        ledgers) last written before the profile changed at ``changed_at``, so the change
        feed hands them out with the profile as it is now. Rows written since go out with
        it anyway: a brand-new user's ``user.activated`` leaves the memberships they got
        afterwards as they are, and a redelivered event finds its rows already written
        (harmless either way). A user in no group is a no-op. Returns (memberships,
        friend ledgers) marked."""
        if not user_id:
            return 0, 0
        async with self._uow.transaction() as repos:
            return await repos.mark_profile_changed(user_id, changed_at)
