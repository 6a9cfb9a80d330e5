"""A person's profile change reaches the group change feed: the group worker's use case
and handler on the in-memory repositories (no database, no queue)."""

from __future__ import annotations

import json
import uuid

import pytest
from google.protobuf.message import Message
from hisaab.events.v1 import events_pb2 as ev
from hisaab.group.v1 import group_pb2

from libs import events
from services.group.domain import Group, Member
from services.group.ports import Profile
from services.group.servicer import _change_proto
from services.group.tests.test_usecases_memory import World, _id
from services.group.usecases import Invitee, ProfileChanges
from services.group.worker import handler


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def profiles(world: World) -> ProfileChanges:
    return ProfileChanges(world.uow)


async def _trip_and_ledger(world: World) -> tuple[str, str]:
    """Asha's trip with Ravi, and Asha's friend ledger with Ravi."""
    trip = _id((await world.group(world.asha)).name)
    await world.add(world.asha, trip, Invitee(user_id=world.ravi))
    ledger = (await world.uc.open_direct(world.asha, Invitee(user_id=world.ravi), "INR")).id
    return trip, ledger


async def _synced(world: World, groups: list[str], user: str = "") -> tuple[int, str]:
    """The cursor of a client of ``user`` (Asha) that synced ``groups`` to the end."""
    rows, _ = await world.uc.changes(user or world.asha, groups, None, None, 100)
    return rows[-1].change_key


def _body(message: Message, event_type: str = "") -> str:
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "seq": 1,
            "type": event_type or events.type_name(message),
            "aggregate": "users/x",
            "actor": "x",
            "payload": events.encode(message),
            "occurred_at": "2026-03-14T09:30:00+00:00",
        }
    )


async def test_a_rename_hands_out_the_members_rows_and_friend_ledgers_again(
    world: World, profiles: ProfileChanges
) -> None:
    trip, ledger = await _trip_and_ledger(world)
    other = _id((await world.group(world.meera)).name)  # Ravi is not in it
    cursor = await _synced(world, [trip, ledger])
    meeras = await _synced(world, [other], world.meera)
    world.users.people[world.ravi] = Profile("Ravi Kumar", False)

    assert await profiles.mark(world.ravi, world.repos.ticks.now()) == (2, 1)

    rows, seen = await world.uc.changes(world.asha, [trip, ledger], cursor, None, 100)
    members = [r for r in rows if isinstance(r, Member)]
    groups = [r for r in rows if isinstance(r, Group)]
    assert sorted(m.group_id for m in members) == sorted([trip, ledger])
    assert all(m.user_id == world.ravi and m.last_change == "profile_changed" for m in members)
    # The friend ledger, as Asha sees it, is named after Ravi; the trip's row is not written.
    assert [(g.id, g.display_name, g.last_change) for g in groups] == [(ledger, "Ravi Kumar", "updated")]
    assert seen == {world.ravi: Profile("Ravi Kumar", False)}
    # On the wire: an update of the member's profile, with the new name.
    change = _change_proto(members[0], seen)
    assert change.change_type == group_pb2.GroupChange.UPDATED
    assert change.member_change == group_pb2.GroupChange.PROFILE_CHANGED
    assert change.member.display_name == "Ravi Kumar" and change.member.state == group_pb2.Member.ACTIVE
    group_change = _change_proto(groups[0], seen)
    assert group_change.change_type == group_pb2.GroupChange.UPDATED
    # Meera's group, which Ravi is not in, is untouched.
    assert (await world.uc.changes(world.meera, [other], meeras, None, 100))[0] == []


async def test_the_friend_ledger_keeps_its_version(world: World, profiles: ProfileChanges) -> None:
    _, ledger = await _trip_and_ledger(world)
    before = world.repos.groups[ledger]
    await profiles.mark(world.ravi, world.repos.ticks.now())
    after = world.repos.groups[ledger]
    assert after.version == before.version and after.change_key > before.change_key


async def test_a_user_in_no_group_changes_nothing(world: World, profiles: ProfileChanges) -> None:
    await _trip_and_ledger(world)
    groups, members = dict(world.repos.groups), dict(world.repos.members_)
    assert await profiles.mark(world.meera, world.repos.ticks.now()) == (0, 0)
    assert await profiles.mark("", world.repos.ticks.now()) == (0, 0)
    assert world.repos.groups == groups and world.repos.members_ == members


async def test_a_redelivery_is_harmless(world: World, profiles: ProfileChanges) -> None:
    trip, ledger = await _trip_and_ledger(world)
    renamed_at = world.repos.ticks.now()
    assert await profiles.mark(world.ravi, renamed_at) == (2, 1)
    groups, members = dict(world.repos.groups), dict(world.repos.members_)
    cursor = await _synced(world, [trip, ledger])
    # The same event again: its rows are written already, after the change.
    assert await profiles.mark(world.ravi, renamed_at) == (0, 0)
    assert world.repos.groups == groups and world.repos.members_ == members
    assert (await world.uc.changes(world.asha, [trip, ledger], cursor, None, 100))[0] == []


async def test_rows_written_after_the_change_are_left_as_they_are(
    world: World, profiles: ProfileChanges
) -> None:
    # A brand-new user's user.activated, handled after someone added them: their
    # membership went out after the sign-in, with the profile as it is, and stays ADDED.
    signed_in_at = world.repos.ticks.now()
    trip, _ = await _trip_and_ledger(world)
    assert await profiles.mark(world.ravi, signed_in_at) == (0, 0)
    assert world.repos.members_[(trip, world.ravi)].last_change == "added"


async def test_an_invited_member_who_signs_in_comes_back_active(
    world: World, profiles: ProfileChanges
) -> None:
    trip = _id((await world.group(world.asha)).name)
    invited = await world.add(world.asha, trip, Invitee(phone_number="+919800000001", display_name="Kiran"))
    assert invited.state == group_pb2.Member.INVITED
    placeholder = invited.user.removeprefix("users/")
    cursor = await _synced(world, [trip])
    world.users.people[placeholder] = Profile("Kiran", False)  # signed in: no longer a placeholder

    await handler(profiles)(_body(ev.UserActivated(user=placeholder)))

    rows, seen = await world.uc.changes(world.asha, [trip], cursor, None, 100)
    [member] = rows
    assert isinstance(member, Member) and member.user_id == placeholder
    proto = _change_proto(member, seen).member
    assert proto.state == group_pb2.Member.ACTIVE and proto.invited_phone_number == ""


async def test_the_handler_takes_both_profile_events_and_ignores_the_rest(
    world: World, profiles: ProfileChanges
) -> None:
    trip, _ = await _trip_and_ledger(world)
    handle = handler(profiles)

    def marked() -> int:
        return sum(m.last_change == "profile_changed" for m in world.repos.members_.values())

    await handle(_body(ev.MemberChanged(group=trip, user=world.ravi, change=ev.ADDED)))
    await handle(_body(ev.UserUpdated(user=world.ravi), "lunar.eclipse"))  # a newer producer's
    await handle(_body(ev.UserUpdated(user="")))
    assert marked() == 0
    await handle(_body(ev.UserUpdated(user=world.ravi, fields=["display_name"])))
    assert marked() == 2
    await handle(_body(ev.UserActivated(user=world.asha)))
    assert marked() == 4
