"""Settlement use cases. Membership is checked here: a non-member is told the group does not exist."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from google.protobuf.message import Message
from hisaab.events.v1 import events_pb2 as ev

from libs import clock, etag
from libs.cache import end_read_ahead
from libs.db.unit_of_work import UnitOfWork
from libs.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from libs.idempotency import M, Once
from libs.ledger.simplify import convert
from libs.money import InvalidField
from libs.names import GROUP_NOT_FOUND
from services.settlement import domain
from services.settlement.balance_cache import BalanceCache
from services.settlement.domain import Method, Settlement, Transfer
from services.settlement.ports import (
    GroupInfo,
    Groups,
    Member,
    RatesSource,
    SettlementRepositories,
    Users,
)
from services.settlement.rates.ecb import SourceError
from services.settlement.rates.reference import ReferenceRates, UnknownCurrency

SETTLEMENT_NOT_FOUND = "settlement not found"
# The idempotency keys' scope of CreateSettlement.
CREATE_SCOPE = "settlement.CreateSettlement"
# Friend ledgers whose members are looked up at once for GetMyBalances.
_PARALLEL_LOOKUPS = 8
# An undelete re-reads when the settlement changed between its roster check and its write.
_RESTORE_ATTEMPTS = 3


@dataclass(frozen=True)
class NewSettlement:
    payer: str
    payee: str
    currency: str
    amount_minor: int
    transaction_date: date | None
    note: str
    method: Method
    payment_reference: str


@dataclass(frozen=True)
class Conversion:
    transfers: list[Transfer]
    optimal: bool
    # currency → value of one unit in the target, as applied
    rates: dict[str, str]
    # the stored day used; None when the client gave the rates
    reference: ReferenceRates | None


@dataclass(frozen=True)
class MemberNets:
    user_id: str
    display_name: str
    nets: dict[str, int]


@dataclass(frozen=True)
class GroupNets:
    group_id: str
    display_name: str
    direct: bool
    friend: str
    nets: dict[str, int]


@dataclass(frozen=True)
class MyNets:
    groups: list[GroupNets]
    owed_to_caller: dict[str, int]
    caller_owes: dict[str, int]


@dataclass(frozen=True)
class UpiLink:
    uri: str
    vpa: str
    payee_display_name: str


@dataclass(frozen=True)
class ListQuery:
    user: str = ""
    start: date | None = None
    end: date | None = None
    show_deleted: bool = False


def _nets_of(balances: Mapping[str, Mapping[str, int]], user_id: str) -> dict[str, int]:
    return {c: nets[user_id] for c, nets in sorted(balances.items()) if nets.get(user_id)}


class SettlementUseCases:
    def __init__(
        self,
        uow: UnitOfWork[SettlementRepositories],
        groups: Groups,
        users: Users,
        cache: BalanceCache,
        rates_source: RatesSource | None = None,
        *,
        now: clock.Clock = clock.now,
    ):
        self._now = now
        self._rates_source = rates_source
        self._uow = uow
        self._groups = groups
        self._users = users
        self._cache = cache

    async def _require_members(
        self, group_id: str, caller: str, others: Mapping[str, str] | None = None
    ) -> None:
        """NotFound unless the caller is a member; INVALID_ARGUMENT naming the field of a
        user in ``others`` (field → user id) who is not."""
        others = others or {}
        found = await self._groups.members_among(group_id, [caller, *others.values()])
        if caller not in found:
            raise NotFound(GROUP_NOT_FOUND)
        for field, user in others.items():
            if user not in found:
                raise InvalidArgument(field, "is not a member of this group")

    # -- balances ---------------------------------------------------------------------------

    async def group_balances(self, caller: str, group_id: str, currency: str) -> list[MemberNets]:
        async with self._uow.read(snapshot=False) as repos:
            key = await self._cache.current_key(repos.ledger, group_id)
            # The roster and the balances at that version in one cache round trip; the
            # membership check reads the roster from it before any balance is looked up.
            ahead = await self._cache.read_ahead(key, self._groups.cache_keys(group_id))
            try:
                members = await self._groups.members(group_id)  # NotFound for a non-member
                if caller not in {m.user_id for m in members}:
                    raise NotFound(GROUP_NOT_FOUND)
                balances = await self._cache.balances_at(repos.ledger, group_id, key)
            finally:
                end_read_ahead(ahead)
        if currency:
            balances = {c: n for c, n in balances.items() if c == currency}
        known = {m.user_id for m in members}
        # Someone can hold a balance without being a member (a write raced their leaving):
        # the money is real, so they are shown rather than dropped.
        former = sorted({u for nets in balances.values() for u in nets} - known)
        if former:
            profiles = await self._users.profiles(former)
            members = members + [Member(u, profiles[u].display_name if u in profiles else "") for u in former]
        return [MemberNets(m.user_id, m.display_name, _nets_of(balances, m.user_id)) for m in members]

    async def member_balance(
        self, caller: str, group_id: str, user_id: str, *, internal: bool = False
    ) -> dict[str, int]:
        """A member's nets; our own services (reminders, leave checks) need not be members."""
        if not internal:
            await self._require_members(group_id, caller)
        # The group service acts on this answer (leave/remove), so it reads the writer.
        async with self._uow.transaction() as repos:
            return dict(sorted((await repos.ledger.member_balance(group_id, user_id)).items()))

    async def my_balances(self, caller: str, show_settled: bool) -> MyNets:
        async with self._uow.read(snapshot=False) as repos:
            nets_by_group = await repos.ledger.user_balances(caller)
        groups = {g.group_id: g for g in await self._groups.my_groups()}
        shown = set(nets_by_group) | (set(groups) if show_settled else set())
        friends = await self._friends(
            [g for g in groups.values() if g.direct and g.group_id in shown], caller
        )
        entries = []
        for group_id in domain.largest_first({g: nets_by_group.get(g, {}) for g in shown}):
            # a group missing from the list is one the caller left while a write raced it
            info = groups.get(group_id, GroupInfo(group_id, "", False))
            friend, friend_name = friends.get(group_id, ("", ""))
            entries.append(
                GroupNets(
                    group_id=group_id,
                    # a friend ledger has no name of its own: it is shown as the friend
                    display_name=friend_name if info.direct else info.display_name,
                    direct=info.direct,
                    friend=friend,
                    nets=dict(sorted(nets_by_group.get(group_id, {}).items())),
                )
            )
        owed, owes = domain.totals(nets_by_group)
        return MyNets(entries, owed, owes)

    async def _friends(self, direct: list[GroupInfo], caller: str) -> dict[str, tuple[str, str]]:
        """group id → (friend's user id, display name) for friend ledgers."""
        limit = asyncio.Semaphore(_PARALLEL_LOOKUPS)

        async def one(group_id: str) -> tuple[str, tuple[str, str]]:
            async with limit:
                members = await self._groups.members(group_id)
            other = next((m for m in members if m.user_id != caller), None)
            return group_id, (other.user_id, other.display_name) if other else ("", "")

        return dict(await asyncio.gather(*(one(g.group_id) for g in direct)))

    # -- debts ------------------------------------------------------------------------------

    async def debts(self, caller: str, group_id: str, currency: str) -> tuple[list[Transfer], bool]:
        await self._require_members(group_id, caller)
        async with self._uow.read(snapshot=False) as repos:
            if not currency:
                return await self._cache.plan(repos.ledger, group_id)
            balances = await self._cache.balances(repos.ledger, group_id)
        return domain.plan({c: n for c, n in balances.items() if c == currency})

    async def converted_debts(
        self,
        caller: str,
        group_id: str,
        target: str,
        rates: dict[str, str] | None,
        rates_date: date | None = None,
    ) -> Conversion:
        """Debts in one currency: at the client's ``rates`` when given, else at the newest
        stored reference rates on or before ``rates_date``."""
        await self._require_members(group_id, caller)
        async with self._uow.read() as repos:
            balances = await self._cache.balances(repos.ledger, group_id)
            reference = None if rates is not None else await repos.newest_rates(rates_date)
        others = sorted(c for c in balances if c != target)
        if rates is None:
            rates = self._reference_rates(reference, target, others)
        missing = [c for c in others if c not in rates]
        if missing:
            raise InvalidArgument("rates", f"a rate to {target} is needed for {', '.join(missing)}")
        used = {c: rates[c] for c in others}
        try:
            nets = convert(balances, used, target, seed=f"{group_id}:{target}")
        except InvalidField as err:
            raise InvalidArgument(err.field, err.reason) from None
        transfers, optimal = domain.plan({target: nets} if any(nets.values()) else {})
        return Conversion(transfers, optimal, used, reference)

    @staticmethod
    def _reference_rates(reference: ReferenceRates | None, target: str, others: list[str]) -> dict[str, str]:
        if not others:
            return {}
        if reference is None:
            raise InvalidArgument(
                "rates_date", "no reference exchange rates are stored for that day or before"
            )
        unknown = [c for c in [target, *others] if not reference.knows(c)]
        if unknown:
            raise InvalidArgument(
                "convert_to",
                f"the {reference.day.isoformat()} reference rates have no rate for {', '.join(unknown)}",
            )
        try:
            return {c: reference.rate(c, target) for c in others}
        except UnknownCurrency as err:
            raise InvalidArgument("convert_to", f"no usable rate for {err.code}") from None

    async def exchange_rates(
        self, base: str, on_or_before: date | None
    ) -> tuple[ReferenceRates, dict[str, str]]:
        async with self._uow.read(snapshot=False) as repos:
            reference = await repos.newest_rates(on_or_before)
        if reference is None:
            raise NotFound("no reference exchange rates are stored for that day or before")
        if not reference.knows(base):
            raise InvalidArgument(
                "base", f"the {reference.day.isoformat()} reference rates have no rate for {base}"
            )
        return reference, reference.rates_in(base)

    async def refresh_rates(self) -> tuple[ReferenceRates, bool]:
        """RefreshExchangeRates (the daily job): the source's newest day, stored once."""
        if self._rates_source is None:
            raise FailedPrecondition("no exchange-rate source is configured")
        try:
            fetched = await self._rates_source.fetch()
        except SourceError as err:
            raise Unavailable(f"exchange-rate source: {err}") from None
        async with self._uow.transaction() as repos:
            stored = await repos.store_rates(fetched)
        return fetched, stored

    # -- settlements ------------------------------------------------------------------------

    async def create(
        self,
        caller: str,
        group_id: str,
        new: NewSettlement,
        request: Message,
        response_type: type[M],
        present: Callable[[Settlement], M],
    ) -> M:
        """CreateSettlement, at most once per ``request``'s request_id (the stored answer is
        ``response_type``): payer and payee are checked against the group's roster before
        the transaction (a cache, else a call to group-service); the row, its ledger entry
        and the event are written in it."""
        await self._require_members(
            group_id, caller, {"settlement.payer": new.payer, "settlement.payee": new.payee}
        )

        async def work(repos: SettlementRepositories) -> M:
            return present(await self._insert(repos, caller, group_id, new))

        # The work only writes rows, so the key goes out with them (one round trip fewer).
        return await Once(self._uow, CREATE_SCOPE, request, response_type, claim_with_writes=True)(work)

    async def _insert(
        self, repos: SettlementRepositories, caller: str, group_id: str, new: NewSettlement
    ) -> Settlement:
        created_at = self._now()
        settlement = Settlement(
            id=str(uuid.uuid4()),
            group_id=group_id,
            payer=new.payer,
            payee=new.payee,
            currency=new.currency,
            amount_minor=new.amount_minor,
            transaction_date=new.transaction_date or clock.business_date(created_at),
            note=new.note,
            method=new.method,
            payment_reference=new.payment_reference,
            creator=caller,
            deleted=False,
            version=1,
            created_at=created_at,
            deleted_at=None,
        )
        saved = await repos.insert(settlement)
        await repos.ledger.record(
            group_id=group_id,
            kind="settlement",
            currency=new.currency,
            total_minor=new.amount_minor,
            postings=domain.postings(new.payer, new.payee, new.amount_minor),
            entry_id=saved.id,
        )
        await repos.outbox.record(_event(saved, ev.CREATED), saved.name, actor=caller)
        return saved

    async def get(self, caller: str, group_id: str, settlement_id: str) -> Settlement:
        await self._require_members(group_id, caller)
        async with self._uow.read(snapshot=False) as repos:
            found = await repos.get(group_id, settlement_id)
        if found is None:
            raise NotFound(SETTLEMENT_NOT_FOUND)
        return found

    async def list(
        self, caller: str, group_id: str, query: ListQuery, *, after: list[Any] | None, limit: int
    ) -> list[Settlement]:
        await self._require_members(group_id, caller)
        async with self._uow.read() as repos:
            return await repos.page(
                group_id,
                user=query.user,
                start=query.start,
                end=query.end,
                show_deleted=query.show_deleted,
                after=after,
                limit=limit,
            )

    async def set_deleted(
        self, caller: str, group_id: str, settlement_id: str, deleted: bool, sent_etag: str
    ) -> Settlement:
        """Delete (reverse the ledger entry) or undelete (post it again); a repeat changes nothing.

        Posting the money again needs both people still in the group: that is asked of
        group-service before the transaction, never while it is open."""
        await self._require_members(group_id, caller)
        for _ in range(_RESTORE_ATTEMPTS):
            checked = None if deleted else await self._restorable(group_id, settlement_id, sent_etag)
            async with self._uow.transaction() as repos:
                found = await repos.get(group_id, settlement_id, lock=True)
                if found is None:
                    raise NotFound(SETTLEMENT_NOT_FOUND)
                etag.check(sent_etag, found.name, found.version)
                if found.deleted == deleted:
                    return found
                if not deleted and checked != found.version:
                    continue  # it changed since the roster check (or had none): check again
                if not await repos.ledger.set_active(found.id, not deleted):
                    raise FailedPrecondition(
                        "the ledger entry of this settlement is out of step; contact support"
                    )
                updated = await repos.set_deleted(found.id, deleted)
                change = ev.DELETED if deleted else ev.RESTORED
                await repos.outbox.record(_event(updated, change), updated.name, actor=caller)
                return updated
        raise FailedPrecondition("the settlement keeps changing; retry")

    async def _restorable(self, group_id: str, settlement_id: str, sent_etag: str) -> int | None:
        """The version whose payer and payee were found still in the group, or None when
        there is nothing to restore (the transaction answers that case)."""
        # The writer, not a replica: the etag is checked against the current version.
        async with self._uow.transaction() as repos:
            found = await repos.get(group_id, settlement_id)
        if found is None or not found.deleted:
            return None
        etag.check(sent_etag, found.name, found.version)
        present = await self._groups.members_among(group_id, [found.payer, found.payee])
        if {found.payer, found.payee} - present:
            raise FailedPrecondition("the payer or the payee has left the group; it cannot be restored")
        return found.version

    # -- change feed ------------------------------------------------------------------------

    async def feed_groups(self, caller: str, group_id: str, *, resuming: bool) -> Sequence[str]:
        """The groups a change feed covers now. A client resuming a one-group feed after
        losing access gets an empty set (and so ACCESS_REVOKED), not NOT_FOUND."""
        if group_id == "-":
            return [g.group_id for g in await self._groups.my_groups()]
        try:
            await self._require_members(group_id, caller)
        except NotFound:
            if resuming:
                return []
            raise
        return [group_id]

    async def changes(
        self,
        group_ids: Sequence[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> Sequence[Settlement]:
        if not group_ids:
            return []
        # On the writer: the feed's "every older transaction is over" test needs the
        # primary's view of running transactions.
        async with self._uow.transaction() as repos:
            return await repos.changes_since(group_ids, after, upto, limit)

    # -- UPI --------------------------------------------------------------------------------

    async def upi_link(self, caller: str, group_id: str, payee: str, amount_minor: int, note: str) -> UpiLink:
        await self._require_members(group_id, caller, {"payee": payee})
        profile = (await self._users.profiles([payee])).get(payee)
        name = profile.display_name if profile else ""
        if profile is None or not profile.upi_vpa:
            who = name or "The payee"
            raise FailedPrecondition(
                f"{who} has no UPI address yet; ask them to add one to their profile "
                "(upiVpa in PATCH /v1/users/me), or record the payment as cash"
            )
        return UpiLink(domain.upi_uri(profile.upi_vpa, name, amount_minor, note), profile.upi_vpa, name)


def _event(s: Settlement, change: ev.ChangeKind.ValueType) -> ev.SettlementChanged:
    return ev.SettlementChanged(
        group=s.group_id,
        settlement=s.id,
        change=change,
        payer=s.payer,
        payee=s.payee,
        currency_code=s.currency,
        amount_minor=s.amount_minor,
        transaction_date=s.transaction_date.isoformat(),
    )
