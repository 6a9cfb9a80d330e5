"""Group rules without a database: who may do what, friend ledgers, invite links."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from libs.errors import FailedPrecondition, NotAllowed
from services.group import domain
from services.group.domain import Group, InviteLink, Kind, Role

AT = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)

TRIP = Group(
    id="g1",
    display_name="Goa",
    kind=Kind.TRIP,
    description="",
    default_currency="INR",
    simplify_debts=True,
    archived=False,
    creator="a",
    version=1,
    created_at=AT,
    updated_at=AT,
    member_count=3,
    my_role=Role.MEMBER,
)


def test_only_owners_pass_the_owner_check() -> None:
    with pytest.raises(NotAllowed):
        domain.require_owner(TRIP)
    with pytest.raises(NotAllowed):
        domain.require_owner(replace(TRIP, my_role=None))
    domain.require_owner(replace(TRIP, my_role=Role.OWNER))


def test_a_friend_ledger_keeps_its_two_people() -> None:
    with pytest.raises(FailedPrecondition, match="cannot add members"):
        domain.require_not_direct(replace(TRIP, kind=Kind.DIRECT), "add members")
    domain.require_not_direct(TRIP, "add members")


def test_the_last_owner_cannot_go() -> None:
    with pytest.raises(FailedPrecondition):
        domain.check_owner_remains(0)
    domain.check_owner_remains(1)


def test_a_friend_ledger_key_is_the_same_from_either_side() -> None:
    assert domain.direct_key("b", "a") == domain.direct_key("a", "b") == "a|b"


def test_invite_links_are_unguessable_and_expire() -> None:
    tokens = {domain.new_invite_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) >= 24 for t in tokens)
    assert all(domain.could_be_invite_token(t) for t in tokens)
    assert not any(domain.could_be_invite_token(t) for t in ("", "abc\x00def", "a b", "é", "a/b"))
    link = InviteLink("l1", "g1", "t", AT + timedelta(days=1), False, "a", AT)
    assert link.usable(AT) and not link.usable(AT + timedelta(days=1))
    assert not replace(link, revoked=True).usable(AT)
    assert replace(link, expires_at=None).usable(AT + timedelta(days=10_000))
    assert TRIP.name == "groups/g1"
