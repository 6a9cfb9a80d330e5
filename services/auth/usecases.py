"""Auth use cases: sign-in by one-time code, sessions, profile, devices."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from hisaab.events.v1 import events_pb2 as ev

from libs.clock import Clock, now
from libs.db.unit_of_work import UnitOfWork
from libs.errors import DomainError, InvalidArgument, NotFound, Unauthenticated
from libs.metrics import business
from services.auth import domain
from services.auth.domain import Contact, DeviceRow, UserRow
from services.auth.ports import AuthRepositories
from services.auth.providers import CodeRejected, IdentityProvider, Tokens
from services.auth.throttle import DestinationLimited, SignInThrottle


class OtpInvalid(DomainError):
    import grpc as _grpc

    code = _grpc.StatusCode.INVALID_ARGUMENT
    reason = "OTP_INVALID"


@dataclass(frozen=True)
class StartedSignIn:
    challenge_id: str
    contact: Contact
    expires_at: datetime
    resend_after_seconds: int


@dataclass(frozen=True)
class SignedIn:
    tokens: Tokens
    user: UserRow
    new_user: bool


class AuthUseCases:
    def __init__(
        self,
        uow: UnitOfWork[AuthRepositories],
        provider: IdentityProvider,
        throttle: SignInThrottle,
        *,
        clock: Clock = now,
    ):
        self._uow = uow
        self._provider = provider
        self._throttle = throttle
        self._now = clock

    async def start_sign_in(self, contact: Contact, locale: str, address: str) -> StartedSignIn:
        now = self._now()
        # Counted on its own, refused or not: a script hammering one number still spends its budget.
        async with self._uow.transaction() as repos:
            await self._throttle.per_address(repos, "start", address, now)
        challenge_id = str(uuid.uuid4())
        expires = now + domain.CODE_TTL
        async with self._uow.transaction() as repos:
            # One start per destination at a time: the resend rule and the country cap are
            # checked and the challenge recorded before any concurrent start can look.
            await repos.lock_destination(contact)
            last, count = await repos.recent_challenges(contact, now - timedelta(hours=1))
            wait = self._throttle.resend_wait(last, count, now)
            if wait:
                raise DestinationLimited(f"a code was sent recently; try again in {wait} seconds", wait)
            if contact.channel is domain.Channel.SMS:
                await self._throttle.sms_to_country(repos, contact, now)
            await repos.insert_challenge(challenge_id, contact, None, "", expires)
        # The code goes out after the reservation is committed; no transaction is open meanwhile.
        try:
            subject = await self._existing_or_new_subject(contact)
        except Exception:
            # No code went out, so the reservation must not make the retry wait for a resend.
            with contextlib.suppress(Exception):
                async with self._uow.transaction() as repos:
                    await repos.forget_challenge(challenge_id)
            raise
        started = await self._provider.start(challenge_id, contact, subject, locale)
        async with self._uow.transaction() as repos:
            await repos.set_challenge_secret(challenge_id, started.code_hash, started.provider_state)
        business.otp_sent(contact.channel.value)
        return StartedSignIn(challenge_id, contact, expires, self._throttle.settings.resend_after_seconds)

    async def _existing_or_new_subject(self, contact: Contact) -> str:
        async with self._uow.read() as repos:
            user = await repos.user_by_contact(contact)
        return user.id if user else await self._provider.subject_for(contact)

    async def verify_sign_in(self, challenge_id: str, code: str, address: str) -> SignedIn:
        if not code.isdigit() or len(code) != domain.CODE_LENGTH:
            raise InvalidArgument("code", f"must be {domain.CODE_LENGTH} digits")
        now = self._now()
        async with self._uow.transaction() as repos:
            await self._throttle.per_address(repos, "verify", address, now)
        async with self._uow.transaction() as repos:
            challenge = await repos.challenge_for_update(challenge_id)
            if challenge is None:
                raise OtpInvalid("unknown sign-in challenge; request a new code")
            refusal = challenge.refusal(self._now())
            if refusal:
                raise OtpInvalid(refusal)
            slot = await self._throttle.wrong_code_slot(repos, challenge.contact, now)
            user = await repos.user_by_contact(challenge.contact, lock=True)
            subject = user.id if user else await self._provider.subject_for(challenge.contact)
            try:
                tokens = await self._provider.verify(
                    challenge, subject, code, user.claims() if user else _claims(challenge.contact)
                )
            except CodeRejected:
                # Counted under the challenge's row lock, in the transaction that checked the
                # count, so concurrent guesses queue behind it: at most MAX_ATTEMPTS are ever
                # evaluated. The transaction commits; the refusal is raised after it.
                wrong = True
                await repos.count_failed_attempt(challenge.id)
            else:
                wrong = False
                await self._throttle.give_back(repos, challenge.contact, slot)
                await repos.consume_challenge(challenge.id)
                new_user = user is None or user.state == "placeholder"
                if user is None:
                    user = await repos.insert_user(
                        subject, challenge.contact, state="active", display_name=""
                    )
                    if user is None:  # lost a race with a concurrent first sign-in
                        raise OtpInvalid("sign-in raced with another; try again")
                elif user.state == "placeholder":
                    await repos.activate_user(user.id)
                    user = await repos.user_by_id(user.id)
                    assert user is not None
                if tokens.refresh_token:
                    await repos.insert_refresh_token(
                        domain.token_digest(tokens.refresh_token),
                        user.id,
                        self._now() + domain.REFRESH_TOKEN_TTL,
                    )
                assert user is not None
                if new_user:
                    activated = ev.UserActivated(user=user.id)
                    await repos.outbox.record(activated, f"users/{user.id}", actor=user.id)
                signed = SignedIn(tokens, user, new_user)
        if wrong:
            raise OtpInvalid("the code is not correct")
        return signed

    async def refresh(self, refresh_token: str) -> SignedIn:
        if not refresh_token:
            raise InvalidArgument("refresh_token", "is required")
        async with self._uow.read() as repos:
            owner = await repos.live_refresh_token_owner(domain.token_digest(refresh_token), self._now())
            user = await repos.user_by_id(owner) if owner else None
        if user is None:
            raise Unauthenticated("refresh token is not valid; sign in again")
        try:
            tokens = await self._provider.refresh(refresh_token, user.id, user.claims())
        except CodeRejected:
            raise Unauthenticated("refresh token is not valid; sign in again") from None
        return SignedIn(tokens, user, False)

    async def sign_out(self, refresh_token: str) -> None:
        if not refresh_token:
            raise InvalidArgument("refresh_token", "is required")
        async with self._uow.transaction() as repos:
            revoked = await repos.revoke_refresh_token(domain.token_digest(refresh_token))
        if revoked:
            await self._provider.revoke(refresh_token)

    async def me(self, user_id: str) -> UserRow:
        async with self._uow.transaction() as repos:  # writer: right after sign-in the reader may lag
            user = await repos.user_by_id(user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    async def update_me(self, user_id: str, changes: dict[str, str]) -> UserRow:
        async with self._uow.transaction() as repos:
            current = await repos.user_by_id(user_id)
            if current is None:
                raise NotFound("user not found")
            if not changes:
                return current
            updated = await repos.update_user(user_id, changes)
            # Other members see these fields (group-service's members and friend ledgers):
            # they hear of a change in the same transaction, so their caches catch up.
            shown = sorted(
                f for f in domain.MEMBER_VISIBLE_FIELDS if getattr(current, f) != getattr(updated, f)
            )
            if shown:
                event = ev.UserUpdated(user=user_id, fields=shown)
                await repos.outbox.record(event, f"users/{user_id}", actor=user_id)
            return updated

    async def ensure_user(self, contact: Contact, display_name: str) -> UserRow:
        async with self._uow.transaction() as repos:
            user = await repos.user_by_contact(contact)
            if user is not None:
                return user
        subject = await self._provider.subject_for(contact)
        async with self._uow.transaction() as repos:
            created = await repos.insert_user(
                subject, contact, state="placeholder", display_name=display_name
            )
            if created is not None:
                return created
            existing = await repos.user_by_contact(contact)
            assert existing is not None
            return existing

    async def users(self, ids: list[str]) -> list[UserRow]:
        async with self._uow.read() as repos:
            found = {u.id: u for u in await repos.users_by_ids(ids)}
        return [found[i] for i in ids if i in found]

    async def register_device(
        self, user_id: str, platform: str, push_token: str, app_version: str
    ) -> DeviceRow:
        async with self._uow.transaction() as repos:
            return await repos.upsert_device(user_id, platform, push_token, app_version)

    async def devices(self, user_ids: list[str]) -> list[DeviceRow]:
        async with self._uow.read() as repos:
            return await repos.devices_of(user_ids)

    async def unregister_device(self, user_id: str, device_id: str) -> None:
        async with self._uow.transaction() as repos:
            if not await repos.delete_device(user_id, device_id):
                raise NotFound("device not found")


def _claims(contact: Contact) -> dict[str, str | None]:
    return {
        "phone_number": contact.value if contact.channel is domain.Channel.SMS else None,
        "email": contact.value if contact.channel is domain.Channel.EMAIL else None,
    }
