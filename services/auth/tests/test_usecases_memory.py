"""Auth use cases on in-memory repositories: sign-in, sessions, profile and devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hisaab.events.v1 import events_pb2 as ev

from libs.db.unit_of_work import MemoryUnitOfWork
from libs.errors import InvalidArgument, NotFound, Unauthenticated
from libs.limits import SignInLimits, Window
from services.auth import domain
from services.auth.domain import Contact
from services.auth.tests.fakes import FakeProvider, MemoryAuthRepositories
from services.auth.throttle import AddressLimited, DestinationLimited, SignInThrottle
from services.auth.usecases import AuthUseCases, OtpInvalid

PHONE = Contact.phone("+919876543210")
ADDRESS = "203.0.113.7"
Uow = MemoryUnitOfWork[MemoryAuthRepositories]


class World:
    def __init__(self, limits: SignInLimits | None = None) -> None:
        self.clock = [datetime(2026, 3, 1, 12, tzinfo=UTC)]
        self.uow: Uow = MemoryUnitOfWork(MemoryAuthRepositories(lambda: self.clock[0]))
        self.provider = FakeProvider()
        self.uc = AuthUseCases(
            self.uow, self.provider, SignInThrottle(limits or SignInLimits()), clock=lambda: self.clock[0]
        )

    @property
    def repos(self) -> MemoryAuthRepositories:
        return self.uow.repositories

    async def sign_in(self, contact: Contact = PHONE) -> domain.UserRow:
        started = await self.uc.start_sign_in(contact, "en-IN", ADDRESS)
        return (await self.uc.verify_sign_in(started.challenge_id, self.provider.code, ADDRESS)).user


@pytest.fixture
def world() -> World:
    return World()


async def test_a_first_sign_in_creates_the_user_once_with_one_event(world: World) -> None:
    started = await world.uc.start_sign_in(PHONE, "en-IN", ADDRESS)
    assert world.provider.started == [started.challenge_id]
    stored = world.repos.challenges[started.challenge_id].challenge
    assert stored.provider_state == f"state-{started.challenge_id}" and stored.contact == PHONE

    signed = await world.uc.verify_sign_in(started.challenge_id, "123456", ADDRESS)
    assert signed.new_user and signed.user.phone_number == PHONE.value and signed.user.state == "active"
    [event] = world.repos.outbox.events()
    assert isinstance(event, ev.UserActivated) and event.user == signed.user.id
    assert world.repos.challenges[started.challenge_id].challenge.consumed
    digest = domain.token_digest(signed.tokens.refresh_token)
    assert world.repos.refresh_tokens[digest].user_id == signed.user.id

    with pytest.raises(OtpInvalid, match="already used"):
        await world.uc.verify_sign_in(started.challenge_id, "123456", ADDRESS)
    world.clock[0] += timedelta(minutes=5)
    again = await world.sign_in()
    assert again.id == signed.user.id and len(world.repos.users) == 1
    assert len(world.repos.outbox.recorded) == 1  # a returning user is not activated again


async def test_a_wrong_code_is_counted_although_it_is_refused(world: World) -> None:
    started = await world.uc.start_sign_in(PHONE, "en-IN", ADDRESS)
    for _ in range(domain.MAX_ATTEMPTS):
        with pytest.raises(OtpInvalid, match="not correct"):
            await world.uc.verify_sign_in(started.challenge_id, "000000", ADDRESS)
    assert world.repos.challenges[started.challenge_id].challenge.attempts == domain.MAX_ATTEMPTS
    with pytest.raises(OtpInvalid, match="too many"):
        await world.uc.verify_sign_in(started.challenge_id, "123456", ADDRESS)
    assert world.repos.users == {} and world.repos.outbox.recorded == []
    with pytest.raises(InvalidArgument) as malformed:
        await world.uc.verify_sign_in(started.challenge_id, "12ab56", ADDRESS)
    assert malformed.value.field == "code"
    with pytest.raises(OtpInvalid, match="unknown"):
        await world.uc.verify_sign_in("not-a-challenge", "123456", ADDRESS)


async def test_a_resend_too_soon_is_refused_and_leaves_no_challenge(world: World) -> None:
    await world.uc.start_sign_in(PHONE, "en-IN", ADDRESS)
    with pytest.raises(DestinationLimited) as soon:
        await world.uc.start_sign_in(PHONE, "en-IN", ADDRESS)
    assert soon.value.retry_after_seconds > 0
    assert len(world.repos.challenges) == 1 and len(world.provider.started) == 1
    world.clock[0] += timedelta(seconds=world.uc._throttle.settings.resend_after_seconds)
    await world.uc.start_sign_in(PHONE, "en-IN", ADDRESS)
    assert len(world.repos.challenges) == 2


async def test_a_start_that_fails_before_sending_leaves_no_wait_for_its_retry(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def lost(contact: Contact, *, lock: bool = False) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(world.repos, "user_by_contact", lost)
    with pytest.raises(ConnectionError):
        await world.uc.start_sign_in(PHONE, "en-IN", ADDRESS)
    assert world.repos.challenges == {} and world.provider.started == []
    monkeypatch.undo()
    started = await world.uc.start_sign_in(PHONE, "en-IN", ADDRESS)  # at once, no resend wait
    assert world.provider.started == [started.challenge_id]


async def test_starts_from_one_address_are_limited() -> None:
    world = World(SignInLimits(starts_per_address=Window(2, 300), resend_after_seconds=0))
    await world.uc.start_sign_in(PHONE, "en-IN", ADDRESS)
    await world.uc.start_sign_in(Contact.email("a@example.com"), "en-IN", ADDRESS)
    with pytest.raises(AddressLimited):
        await world.uc.start_sign_in(Contact.email("b@example.com"), "en-IN", ADDRESS)
    assert len(world.repos.challenges) == 2
    # another address is counted on its own
    await world.uc.start_sign_in(Contact.email("b@example.com"), "en-IN", "198.51.100.1")


async def test_a_placeholder_becomes_active_at_its_first_sign_in(world: World) -> None:
    placeholder = await world.uc.ensure_user(PHONE, "Asha")
    assert placeholder.state == "placeholder"
    assert (await world.uc.ensure_user(PHONE, "Other name")).id == placeholder.id
    assert world.repos.outbox.recorded == []
    user = await world.sign_in()
    assert user.id == placeholder.id and user.state == "active" and user.version == 2
    [event] = world.repos.outbox.events()
    assert isinstance(event, ev.UserActivated) and event.user == placeholder.id


async def test_refresh_and_sign_out(world: World) -> None:
    started = await world.uc.start_sign_in(PHONE, "en-IN", ADDRESS)
    signed = await world.uc.verify_sign_in(started.challenge_id, "123456", ADDRESS)
    refreshed = await world.uc.refresh(signed.tokens.refresh_token)
    assert refreshed.user.id == signed.user.id and not refreshed.new_user
    await world.uc.sign_out(signed.tokens.refresh_token)
    assert world.provider.revoked == [signed.tokens.refresh_token]
    with pytest.raises(Unauthenticated):
        await world.uc.refresh(signed.tokens.refresh_token)
    await world.uc.sign_out(signed.tokens.refresh_token)  # a second sign-out revokes nothing
    assert world.provider.revoked == [signed.tokens.refresh_token]
    with pytest.raises(InvalidArgument):
        await world.uc.refresh("")


async def test_profile_updates_bump_the_version(world: World) -> None:
    user = await world.sign_in()
    updated = await world.uc.update_me(user.id, {"display_name": "Asha", "upi_vpa": "asha@upi"})
    assert (updated.display_name, updated.upi_vpa, updated.version) == ("Asha", "asha@upi", user.version + 1)
    assert await world.uc.update_me(user.id, {}) == updated
    assert (await world.uc.me(user.id)).display_name == "Asha"
    with pytest.raises(NotFound):
        await world.uc.me("nobody")
    with pytest.raises(NotFound):
        await world.uc.update_me("nobody", {"display_name": "X"})
    assert [u.id for u in await world.uc.users(["nobody", user.id])] == [user.id]


async def test_a_change_other_members_see_is_published_in_its_transaction(world: World) -> None:
    user = await world.sign_in()
    world.repos.outbox.recorded.clear()
    # Fields only the user sees: no event.
    await world.uc.update_me(user.id, {"upi_vpa": "asha@upi", "locale": "hi-IN", "default_currency": "USD"})
    assert world.repos.outbox.recorded == []
    # The display name shows on every member row and names friend ledgers.
    await world.uc.update_me(user.id, {"display_name": "Asha", "upi_vpa": "asha2@upi"})
    [recorded] = world.repos.outbox.recorded
    assert recorded.event == ev.UserUpdated(user=user.id, fields=["display_name"])
    assert (recorded.aggregate, recorded.actor) == (f"users/{user.id}", user.id)
    # The same name again changes nothing anyone sees.
    await world.uc.update_me(user.id, {"display_name": "Asha"})
    assert len(world.repos.outbox.recorded) == 1


async def test_a_failed_profile_change_publishes_nothing(world: World) -> None:
    user = await world.sign_in()
    world.repos.outbox.recorded.clear()
    with pytest.raises(NotFound):
        await world.uc.update_me("nobody", {"display_name": "X"})
    assert world.repos.outbox.recorded == [] and (await world.uc.me(user.id)).display_name == ""


async def test_devices_are_one_per_push_token_and_only_their_owner_removes_them(world: World) -> None:
    first = await world.uc.register_device("u1", "android", "token-1", "1.0")
    again = await world.uc.register_device("u1", "ios", "token-1", "1.1")
    assert again.id == first.id and (again.platform, again.app_version) == ("ios", "1.1")
    world.clock[0] += timedelta(seconds=1)
    await world.uc.register_device("u2", "android", "token-1", "1.0")
    assert [d.user_id for d in await world.uc.devices(["u1", "u2"])] == ["u1", "u2"]
    with pytest.raises(NotFound):
        await world.uc.unregister_device("u2", first.id)
    await world.uc.unregister_device("u1", first.id)
    assert [d.user_id for d in await world.uc.devices(["u1", "u2"])] == ["u2"]
