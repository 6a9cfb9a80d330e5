"""group-service's rules through its use cases, on the in-memory repositories (no database).

What a member may do, idempotent creates, the events each write leaves in the outbox, the
roster published after each membership change, and that a failing write leaves nothing.
The SQL adapter has the same contract; the e2e tests run it against PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from google.protobuf.message import Message
from hisaab.events.v1 import events_pb2 as ev
from hisaab.group.v1 import group_pb2

from libs import etag
from libs.auth.caller import Caller, reset_caller, set_caller
from libs.clock import now
from libs.db.unit_of_work import MemoryUnitOfWork
from libs.errors import (
    AlreadyExists,
    EtagMismatch,
    FailedPrecondition,
    InvalidArgument,
    NotAllowed,
    NotFound,
    RequestIdReused,
)
from libs.idempotency import M, Once
from services.group import domain
from services.group.domain import Group, Kind, Member, MemberRemoval, Role
from services.group.ports import GroupRepositories, Profile
from services.group.preset_usecases import PresetUseCases
from services.group.presets import Mode, Preset, PresetSpec
from services.group.servicer import group_proto, link_proto, member_proto
from services.group.tests.fakes import FakeBalances, FakeRosters, FakeUsers, MemoryGroupRepositories
from services.group.usecases import GroupUseCases, Invitee

FIELDS: dict[str, Any] = {
    "display_name": "Goa",
    "description": "",
    "default_currency": "INR",
    "simplify_debts": True,
    "kind": Kind.TRIP,
}


class World:
    def __init__(self) -> None:
        self.uow: MemoryUnitOfWork[MemoryGroupRepositories] = MemoryUnitOfWork(MemoryGroupRepositories())
        self.users = FakeUsers()
        self.balances = FakeBalances()
        self.rosters = FakeRosters()
        self.uc = GroupUseCases(self.uow, self.users, self.balances, self.rosters)
        self.presets = PresetUseCases(self.uow)
        self.asha = self.users.add("Asha")
        self.ravi = self.users.add("Ravi")
        self.meera = self.users.add("Meera")

    @property
    def repos(self) -> MemoryGroupRepositories:
        return self.uow.repositories

    def events(self) -> list[Message]:
        return self.repos.outbox.events()

    def once(self, scope: str, request: Message, response_type: type[M]) -> Once[GroupRepositories, M]:
        return Once(self.uow, f"group.{scope}", request, response_type)

    async def group(self, owner: str, request_id: str = "", **fields: Any) -> group_pb2.Group:
        request = group_pb2.CreateGroupRequest(
            group=group_pb2.Group(display_name=fields.get("display_name", "Goa")), request_id=request_id
        )
        with acting(owner):
            return await self.uc.create(
                owner, {**FIELDS, **fields}, self.once("CreateGroup", request, group_pb2.Group), group_proto
            )

    async def add(
        self, by: str, group_id: str, invitee: Invitee, role: Role = Role.MEMBER, request_id: str = ""
    ) -> group_pb2.Member:
        request = group_pb2.AddMemberRequest(
            parent=f"groups/{group_id}", user=f"users/{invitee.user_id}", request_id=request_id
        )
        with acting(by):
            once = self.once("AddMember", request, group_pb2.Member)
            return await self.uc.add_member(by, group_id, invitee, role, once, member_proto)

    async def link(self, by: str, group_id: str) -> group_pb2.InviteLink:
        request = group_pb2.CreateInviteLinkRequest(parent=f"groups/{group_id}")
        with acting(by):
            once = self.once("CreateInviteLink", request, group_pb2.InviteLink)
            return await self.uc.create_link(by, group_id, None, once, link_proto)


@contextmanager
def acting(user: str) -> Iterator[None]:
    """The caller of an RPC (libs.idempotency.Once keys a request_id to them)."""
    token = set_caller(Caller(user, "token"))
    try:
        yield
    finally:
        reset_caller(token)


@pytest.fixture
def world() -> World:
    return World()


def _id(name: str) -> str:
    return name.removeprefix("groups/")


# -- groups ----------------------------------------------------------------------------------


async def test_create_makes_the_creator_owner_and_records_the_event(world: World) -> None:
    created = await world.group(world.asha)
    assert created.my_role == group_pb2.Member.OWNER and created.member_count == 1
    group_id = _id(created.name)
    assert (await world.uc.get(world.asha, group_id)).display_name == "Goa"
    [event] = world.events()
    assert event == ev.GroupChanged(group=group_id, change=ev.CREATED, display_name="Goa")
    assert world.repos.outbox.recorded[0].actor == world.asha


async def test_a_retried_create_returns_the_first_group_and_writes_nothing_more(world: World) -> None:
    rid = str(uuid.uuid4())
    first = await world.group(world.asha, rid)
    again = await world.group(world.asha, rid)
    assert again == first
    assert len(world.repos.groups) == 1 and len(world.events()) == 1
    with pytest.raises(RequestIdReused):
        await world.group(world.asha, rid, display_name="Not Goa")
    # The same id from someone else is their own request.
    assert (await world.group(world.ravi, rid)).name != first.name


async def test_a_failing_create_leaves_no_group_member_event_or_key(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise ConnectionError("outbox down")

    # On the class: the rollback replaces the repositories' objects with copies.
    monkeypatch.setattr(type(world.repos.outbox), "record", broken)
    rid = str(uuid.uuid4())
    with pytest.raises(ConnectionError):
        await world.group(world.asha, rid)
    assert world.repos.groups == {} and world.repos.members_ == {}
    assert world.repos.keys.kept == {} and world.events() == []
    monkeypatch.undo()
    # The key was never kept, so the retry runs.
    created = await world.group(world.asha, rid)
    assert len(world.repos.groups) == 1 and _id(created.name) in world.repos.groups


async def test_a_non_member_is_told_the_group_does_not_exist(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    with pytest.raises(NotFound):
        await world.uc.get(world.ravi, group_id)
    with pytest.raises(NotFound):
        await world.uc.update(world.ravi, group_id, {"display_name": "Mine"}, "")
    with pytest.raises(NotFound):
        await world.uc.members(world.ravi, group_id, after=None, limit=10)


async def test_update_bumps_the_version_checks_the_etag_and_records_the_fields(world: World) -> None:
    created = await world.group(world.asha)
    group_id = _id(created.name)
    updated = await world.uc.update(
        world.asha, group_id, {"display_name": "Goa 2027", "simplify_debts": False}, created.etag
    )
    assert updated.display_name == "Goa 2027" and updated.version == 2 and not updated.simplify_debts
    assert world.events()[-1] == ev.GroupChanged(
        group=group_id, change=ev.UPDATED, fields=["display_name", "simplify_debts"], display_name="Goa 2027"
    )
    with pytest.raises(EtagMismatch):  # the etag read before the update is stale now
        await world.uc.update(world.asha, group_id, {"description": "x"}, created.etag)
    assert (await world.uc.get(world.asha, group_id)).description == ""


async def test_only_an_owner_archives_and_archived_groups_leave_the_default_list(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    await world.add(world.asha, group_id, Invitee(user_id=world.ravi))
    with pytest.raises(NotAllowed):
        await world.uc.set_archived(world.ravi, group_id, True, "")
    archived = await world.uc.set_archived(world.asha, group_id, True, "")
    assert archived.archived and archived.last_change == "archived"
    assert await world.uc.list_groups(world.ravi, show_archived=False, after=None, limit=10) == []
    [shown] = await world.uc.list_groups(world.ravi, show_archived=True, after=None, limit=10)
    assert shown.id == group_id


async def test_list_groups_pages_the_latest_updated_first(world: World) -> None:
    ids = [_id((await world.group(world.asha, display_name=n)).name) for n in ("a", "b", "c")]
    await world.uc.update(world.asha, ids[0], {"description": "touched"}, "")
    first = await world.uc.list_groups(world.asha, show_archived=False, after=None, limit=2)
    assert [g.id for g in first] == [ids[0], ids[2]]
    after = [first[-1].updated_at.isoformat(), first[-1].id]
    rest = await world.uc.list_groups(world.asha, show_archived=False, after=after, limit=2)
    assert [g.id for g in rest] == [ids[1]]


async def test_a_friend_ledger_opens_once_per_pair_and_is_named_after_the_friend(world: World) -> None:
    first = await world.uc.open_direct(world.asha, Invitee(user_id=world.ravi), "INR")
    again = await world.uc.open_direct(world.ravi, Invitee(user_id=world.asha), "INR")
    assert first.id == again.id and len(world.repos.groups) == 1
    assert first.display_name == "Ravi" and again.display_name == "Asha"
    assert first.kind is Kind.DIRECT and first.member_count == 2
    assert len(world.events()) == 1
    with pytest.raises(InvalidArgument):
        await world.uc.open_direct(world.asha, Invitee(user_id=world.asha), "INR")
    with pytest.raises(FailedPrecondition):
        await world.add(world.asha, first.id, Invitee(user_id=world.meera))


# -- members ---------------------------------------------------------------------------------


async def test_adding_by_phone_makes_a_placeholder_member_and_publishes_the_roster(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    added = await world.add(world.asha, group_id, Invitee(phone_number="+919800000001", display_name="Kiran"))
    assert added.state == group_pb2.Member.INVITED and added.invited_phone_number == "+919800000001"
    user = added.user.removeprefix("users/")
    assert world.events()[-1] == ev.MemberChanged(group=group_id, user=user, change=ev.ADDED)
    roster = world.rosters.published[-1]
    assert roster.names == {world.asha: "Asha", user: "Kiran"}
    assert roster.version == world.repos.groups[group_id].version == 2


async def test_a_retried_add_returns_the_first_member_and_a_second_add_is_refused(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    rid = str(uuid.uuid4())
    first = await world.add(world.asha, group_id, Invitee(user_id=world.ravi), request_id=rid)
    assert await world.add(world.asha, group_id, Invitee(user_id=world.ravi), request_id=rid) == first
    with pytest.raises(AlreadyExists):
        await world.add(world.asha, group_id, Invitee(user_id=world.ravi))
    assert await world.repos.count_members(group_id) == 2
    assert sum(isinstance(e, ev.MemberChanged) for e in world.events()) == 1


async def test_who_may_add_whom(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    await world.add(world.asha, group_id, Invitee(user_id=world.ravi))
    with pytest.raises(NotAllowed):  # only an owner makes owners
        await world.add(world.ravi, group_id, Invitee(user_id=world.meera), Role.OWNER)
    with pytest.raises(NotFound):  # an unknown user id is not made up
        await world.add(world.asha, group_id, Invitee(user_id=str(uuid.uuid4())))
    with pytest.raises(NotFound):  # an outsider cannot add to a group they cannot see
        await world.add(world.meera, group_id, Invitee(user_id=world.meera))
    member = await world.add(world.ravi, group_id, Invitee(user_id=world.meera))
    assert member.role == group_pb2.Member.MEMBER and member.creator == f"users/{world.ravi}"


async def test_a_full_group_takes_no_one_more(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(domain, "MAX_MEMBERS", 2)
    group_id = _id((await world.group(world.asha)).name)
    await world.add(world.asha, group_id, Invitee(user_id=world.ravi))
    with pytest.raises(FailedPrecondition):
        await world.add(world.asha, group_id, Invitee(phone_number="+919800000003"))
    assert world.users.by_contact == {}  # refused before anyone was looked up or made


async def test_a_directory_failure_adds_no_one(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    world.users.fail = True
    with pytest.raises(ConnectionError):
        await world.add(world.asha, group_id, Invitee(phone_number="+919800000002"))
    assert await world.repos.count_members(group_id) == 1 and world.rosters.published == []


async def test_roles_change_with_a_member_etag_and_a_group_keeps_an_owner(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    ravi = await world.add(world.asha, group_id, Invitee(user_id=world.ravi))
    with pytest.raises(NotAllowed):
        await world.uc.set_role(world.ravi, group_id, world.ravi, Role.OWNER)
    with pytest.raises(FailedPrecondition):
        await world.uc.set_role(world.asha, group_id, world.asha, Role.MEMBER)
    with pytest.raises(EtagMismatch):
        await world.uc.set_role(world.asha, group_id, world.ravi, Role.OWNER, etag.make(ravi.name, "owner"))
    member, profile = await world.uc.set_role(world.asha, group_id, world.ravi, Role.OWNER, ravi.etag)
    assert member.role is Role.OWNER and member.last_change == "role_changed"
    assert profile == Profile("Ravi", False)
    demoted, _ = await world.uc.set_role(world.asha, group_id, world.asha, Role.MEMBER)
    assert demoted.role is Role.MEMBER
    with pytest.raises(NotFound):
        await world.uc.set_role(world.ravi, group_id, world.meera, Role.OWNER)


async def test_no_one_leaves_with_money_outstanding(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    await world.add(world.asha, group_id, Invitee(user_id=world.ravi))
    world.balances.unsettled.add((group_id, world.ravi))
    published = len(world.rosters.published)
    with pytest.raises(FailedPrecondition) as refused:
        await world.uc.remove(world.ravi, group_id, world.ravi)
    assert refused.value.reason == "BALANCE_NOT_SETTLED"
    assert await world.repos.member(group_id, world.ravi) is not None
    assert len(world.rosters.published) == published


async def test_leaving_and_removing_leave_tombstones_events_and_a_new_roster(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    for user in (world.ravi, world.meera):
        await world.add(world.asha, group_id, Invitee(user_id=user))
    with pytest.raises(NotAllowed):  # a member removes only themselves
        await world.uc.remove(world.ravi, group_id, world.meera)
    with pytest.raises(FailedPrecondition):  # the only owner cannot leave others behind
        await world.uc.remove(world.asha, group_id, world.asha)
    await world.uc.remove(world.ravi, group_id, world.ravi)
    await world.uc.remove(world.asha, group_id, world.meera)
    assert world.events()[-2:] == [
        ev.MemberChanged(group=group_id, user=world.ravi, change=ev.LEFT),
        ev.MemberChanged(group=group_id, user=world.meera, change=ev.REMOVED),
    ]
    hows = {u: r.how for (_, u), r in world.repos.removals.items()}
    assert hows == {world.ravi: "left", world.meera: "removed"}
    assert world.rosters.published[-1].names == {world.asha: "Asha"}
    with pytest.raises(NotFound):
        await world.uc.get(world.ravi, group_id)
    # Coming back removes the tombstone.
    await world.add(world.asha, group_id, Invitee(user_id=world.ravi))
    assert (group_id, world.ravi) not in world.repos.removals


# -- invite links ----------------------------------------------------------------------------


async def test_joining_by_link_adds_the_member_once(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    link = await world.link(world.asha, group_id)
    found, name, kind, count, already = await world.uc.preview(world.ravi, link.token)
    assert (found.group_id, name, kind, count, already) == (group_id, "Goa", Kind.TRIP, 1, False)
    joined = await world.uc.join(world.ravi, link.token)
    assert joined.my_role is Role.MEMBER and joined.member_count == 2
    assert world.events()[-1] == ev.MemberChanged(group=group_id, user=world.ravi, change=ev.JOINED)
    assert world.rosters.published[-1].names.keys() == {world.asha, world.ravi}
    # Joining again changes nothing.
    events = len(world.events())
    await world.uc.join(world.ravi, link.token)
    assert len(world.events()) == events
    assert (await world.uc.preview(world.ravi, link.token))[4] is True


async def test_a_revoked_or_unknown_link_is_invalid(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    await world.add(world.asha, group_id, Invitee(user_id=world.ravi))
    link = await world.link(world.asha, group_id)
    link_id = link.name.rsplit("/", 1)[1]
    with pytest.raises(NotAllowed):  # a member revokes only their own links
        await world.uc.revoke_link(world.ravi, group_id, link_id)
    assert (await world.uc.revoke_link(world.asha, group_id, link_id)).revoked
    for token in (link.token, "no-such-token", "bad\x00token"):
        with pytest.raises(NotFound) as refused:
            await world.uc.join(world.meera, token)
        assert refused.value.reason == "INVITE_INVALID"
    assert await world.repos.member(group_id, world.meera) is None


async def test_a_link_must_expire_in_the_future_and_a_friend_ledger_has_none(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    request = group_pb2.CreateInviteLinkRequest(parent=f"groups/{group_id}")
    once = world.once("CreateInviteLink", request, group_pb2.InviteLink)
    with acting(world.asha), pytest.raises(InvalidArgument) as refused:
        await world.uc.create_link(world.asha, group_id, now() - timedelta(minutes=1), once, link_proto)
    assert refused.value.field == "invite_link.expire_time"
    assert world.repos.links_ == {}
    direct = await world.uc.open_direct(world.asha, Invitee(user_id=world.ravi), "INR")
    with pytest.raises(FailedPrecondition):
        await world.link(world.asha, direct.id)


async def test_a_retried_link_create_returns_the_same_link(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    request = group_pb2.CreateInviteLinkRequest(parent=f"groups/{group_id}", request_id=str(uuid.uuid4()))

    async def create() -> group_pb2.InviteLink:
        with acting(world.asha):
            once = world.once("CreateInviteLink", request, group_pb2.InviteLink)
            return await world.uc.create_link(world.asha, group_id, None, once, link_proto)

    assert await create() == await create()
    assert len(world.repos.links_) == 1


# -- change feed -----------------------------------------------------------------------------


async def test_the_feed_gives_groups_members_and_tombstones_in_write_order(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    await world.add(world.asha, group_id, Invitee(user_id=world.ravi))
    await world.uc.remove(world.ravi, group_id, world.ravi)
    assert await world.uc.feed_groups(world.asha, "-", resuming=False) == [group_id]
    assert await world.uc.feed_groups(world.ravi, group_id, resuming=True) == []
    with pytest.raises(NotFound):
        await world.uc.feed_groups(world.ravi, group_id, resuming=False)
    rows, profiles = await world.uc.changes(world.asha, [group_id], None, None, 10)
    # Asha's membership, Ravi's tombstone, then the group (touched again by his leaving);
    # Ravi's membership is gone, the group's first write superseded.
    assert [type(r) for r in rows] == [Member, MemberRemoval, Group]
    assert isinstance(rows[1], MemberRemoval) and rows[1].how == "left"
    assert profiles == {world.asha: Profile("Asha", False)}
    rest, _ = await world.uc.changes(world.asha, [group_id], rows[0].change_key, None, 10)
    assert rest == rows[1:]


# -- split presets ---------------------------------------------------------------------------


def _spec(*users: str, default: bool = False, name: str = "Rent") -> PresetSpec:
    return PresetSpec(name, Mode.SHARES, tuple((u, 1) for u in users), "", default)


async def _preset(world: World, by: str, group_id: str, spec: PresetSpec, request_id: str = "") -> Preset:
    request = group_pb2.CreateSplitPresetRequest(parent=f"groups/{group_id}", request_id=request_id)
    made: list[Preset] = []

    def present(preset: Preset, members: list[str]) -> group_pb2.SplitPreset:
        made.append(preset)
        return group_pb2.SplitPreset(name=preset.name)

    with acting(by):
        once = world.once("CreateSplitPreset", request, group_pb2.SplitPreset)
        answer = await world.presets.create(by, group_id, spec, once, present)
    found, _ = await world.presets.get(by, group_id, answer.name.rsplit("/", 1)[1])
    return found


async def test_one_default_preset_per_group(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    await world.add(world.asha, group_id, Invitee(user_id=world.ravi))
    first = await _preset(world, world.asha, group_id, _spec(world.asha, world.ravi, default=True))
    second = await _preset(world, world.ravi, group_id, _spec(world.ravi, default=True, name="Food"))
    assert (await world.presets.get(world.asha, group_id, "default"))[0].id == second.id
    first_now, members = await world.presets.get(world.asha, group_id, first.id)
    assert not first_now.spec.is_default and first_now.version == 2
    assert members == [world.asha, world.ravi]
    page, _ = await world.presets.page(world.asha, group_id, after=None, limit=10)
    assert [p.id for p in page] == [second.id, first.id]
    created = [e for e in world.events() if isinstance(e, ev.SplitPresetChanged)]
    assert [(e.change, e.is_default) for e in created] == [(ev.CREATED, True), (ev.CREATED, True)]


async def test_presets_name_members_only_and_outsiders_see_none(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    with pytest.raises(InvalidArgument) as refused:
        await _preset(world, world.asha, group_id, _spec(world.asha, world.ravi))
    assert refused.value.field == "split_preset.entries[1].user"
    assert world.repos.presets.rows == {}
    with pytest.raises(NotFound):
        await _preset(world, world.ravi, group_id, _spec(world.ravi))
    preset = await _preset(world, world.asha, group_id, _spec(world.asha))
    with pytest.raises(NotFound):
        await world.presets.get(world.ravi, group_id, preset.id)


async def test_preset_updates_and_deletes_check_the_etag(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    preset = await _preset(world, world.asha, group_id, _spec(world.asha))
    sent = etag.make(preset.name, preset.version)
    updated, _ = await world.presets.update(world.asha, group_id, preset.id, {"display_name": "Rent 2"}, sent)
    assert updated.spec.display_name == "Rent 2" and updated.version == 2
    with pytest.raises(EtagMismatch):
        await world.presets.delete(world.asha, group_id, preset.id, sent)
    await world.presets.delete(world.asha, group_id, preset.id, etag.make(preset.name, 2))
    with pytest.raises(NotFound):
        await world.presets.get(world.asha, group_id, preset.id)
    changes = [e.change for e in world.events() if isinstance(e, ev.SplitPresetChanged)]
    assert changes == [ev.CREATED, ev.UPDATED, ev.DELETED]


async def test_a_retried_preset_create_makes_one_preset(world: World) -> None:
    group_id = _id((await world.group(world.asha)).name)
    rid = str(uuid.uuid4())
    first = await _preset(world, world.asha, group_id, _spec(world.asha), rid)
    again = await _preset(world, world.asha, group_id, _spec(world.asha), rid)
    assert first == again and len(world.repos.presets.rows) == 1
