"""SettlementService over gRPC: proto ⇄ use cases. Idempotent creates keep their proto response."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from hisaab.common.v1 import money_pb2
from hisaab.settlement.v1 import settlement_pb2, settlement_pb2_grpc

from libs import change_feed, clock, etag, idempotency, money, names, pagination, validation, wire
from libs.auth.caller import is_internal, require_caller, require_internal
from libs.errors import InvalidArgument, NotFound
from libs.validation import is_uuid
from services.settlement import domain
from services.settlement.domain import Method, Settlement, Transfer
from services.settlement.usecases import (
    SETTLEMENT_NOT_FOUND,
    Conversion,
    ListQuery,
    NewSettlement,
    SettlementUseCases,
)

# GetExchangeRates answers in rupees unless asked otherwise: the app's home currency.
DEFAULT_RATES_BASE = "INR"
# ListConvertedDebtsResponse.rates_source when the request carried the rates.
CLIENT_RATES = "client"

_METHOD = {
    settlement_pb2.Settlement.METHOD_UNSPECIFIED: Method.UNSPECIFIED,
    settlement_pb2.Settlement.CASH: Method.CASH,
    settlement_pb2.Settlement.UPI: Method.UPI,
    settlement_pb2.Settlement.OTHER: Method.OTHER,
}
_METHOD_PB = {v: k for k, v in _METHOD.items()}
_CHANGE_TYPE = {
    "created": settlement_pb2.SettlementChange.CREATED,
    "deleted": settlement_pb2.SettlementChange.DELETED,
    "restored": settlement_pb2.SettlementChange.RESTORED,
}


def _settlement_name(name: str) -> tuple[str, str]:
    group_id, settlement_id = names.in_one_group(name, "settlements")
    if not is_uuid(settlement_id):
        raise NotFound(SETTLEMENT_NOT_FOUND)
    return group_id, settlement_id


def _user_id(name: str, field: str) -> str:
    return names.one(name, "users", field)


def _money(currency: str, amount_minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, amount_minor=amount_minor)


def _nets(nets: Mapping[str, int]) -> list[money_pb2.Money]:
    return [_money(c, v) for c, v in sorted(nets.items())]


def _amount(value: money_pb2.Money, field: str) -> tuple[str, int]:
    """A positive amount in a known currency."""
    currency = validation.currency_code(value.currency_code, f"{field}.currency_code")
    try:
        amount = money.check_amount(value.amount_minor, f"{field}.amount_minor", allow_zero=False)
    except money.InvalidField as err:
        raise InvalidArgument(err.field, err.reason) from None
    return currency, amount


def _date(value: Any, field: str) -> date | None:
    """None when unset (all zero); INVALID_ARGUMENT for a partial or impossible date."""
    if not (value.year or value.month or value.day):
        return None
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        raise InvalidArgument(field, "must be a full calendar date (year, month and day)") from None


def settlement_proto(s: Settlement) -> settlement_pb2.Settlement:
    proto = settlement_pb2.Settlement(
        name=s.name,
        settlement_id=s.id,
        payer=f"users/{s.payer}",
        payee=f"users/{s.payee}",
        amount=_money(s.currency, s.amount_minor),
        note=s.note,
        method=_METHOD_PB[s.method],
        payment_reference=s.payment_reference,
        creator=f"users/{s.creator}",
        deleted=s.deleted,
        create_time=wire.timestamp(s.created_at),
        etag=etag.make(s.name, s.version),
    )
    # google.type.Date is set in place: its Python module ships without type information
    proto.transaction_date.year, proto.transaction_date.month, proto.transaction_date.day = (
        s.transaction_date.year,
        s.transaction_date.month,
        s.transaction_date.day,
    )
    if s.deleted_at is not None:
        proto.delete_time.CopyFrom(wire.timestamp(s.deleted_at))
    return proto


def _target_currency(code: str) -> str:
    if not code:
        raise InvalidArgument("convert_to", "is required")
    return validation.currency_code(code, "convert_to")


def _conversion(result: Conversion) -> settlement_pb2.ListConvertedDebtsResponse:
    answer = settlement_pb2.ListConvertedDebtsResponse(
        transfers=_transfers(result.transfers),
        optimal=result.optimal,
        rates=[settlement_pb2.ExchangeRate(currency_code=c, rate=r) for c, r in result.rates.items()],
        rates_source=result.reference.source if result.reference else CLIENT_RATES,
    )
    if result.reference is not None:
        answer.rates_date.CopyFrom(wire.date_pb(result.reference.day))
    return answer


def _transfers(transfers: list[Transfer]) -> list[settlement_pb2.Transfer]:
    return [
        settlement_pb2.Transfer(
            payer=f"users/{t.payer}", payee=f"users/{t.payee}", amount=_money(t.currency, t.amount_minor)
        )
        for t in transfers
    ]


def _new_settlement(s: settlement_pb2.Settlement) -> NewSettlement:
    payer = _user_id(s.payer, "settlement.payer")
    payee = _user_id(s.payee, "settlement.payee")
    if payer == payee:
        raise InvalidArgument("settlement.payee", "must differ from the payer")
    if not s.HasField("amount"):
        raise InvalidArgument("settlement.amount", "is required")
    currency, amount = _amount(s.amount, "settlement.amount")
    transaction_date = _date(s.transaction_date, "settlement.transaction_date")
    # a day of slack: the caller's "today" may already be tomorrow where the caller is
    if transaction_date is not None and transaction_date > clock.business_today() + timedelta(days=1):
        raise InvalidArgument("settlement.transaction_date", "cannot be in the future")
    method = _METHOD.get(s.method)
    if method is None:
        raise InvalidArgument("settlement.method", "must be CASH, UPI or OTHER")
    return NewSettlement(
        payer=payer,
        payee=payee,
        currency=currency,
        amount_minor=amount,
        transaction_date=transaction_date,
        note=validation.text(s.note, "settlement.note", max_length=domain.MAX_NOTE, multiline=True),
        method=method,
        payment_reference=validation.text(
            s.payment_reference, "settlement.payment_reference", max_length=domain.MAX_PAYMENT_REFERENCE
        ),
    )


class SettlementServicer(settlement_pb2_grpc.SettlementServiceServicer):
    def __init__(self, usecases: SettlementUseCases):
        self._uc = usecases

    async def GetGroupBalances(
        self, request: settlement_pb2.GetGroupBalancesRequest, context: Any
    ) -> settlement_pb2.GroupBalances:
        caller = require_caller()
        group_id = names.group(request.group, "group")
        currency = (
            validation.currency_code(request.currency_code, "currency_code") if request.currency_code else ""
        )
        members = await self._uc.group_balances(caller.user_id, group_id, currency)
        return settlement_pb2.GroupBalances(
            group=f"groups/{group_id}",
            members=[
                settlement_pb2.MemberBalance(
                    user=f"users/{m.user_id}", display_name=m.display_name, net=_nets(m.nets)
                )
                for m in members
            ],
        )

    async def GetMyBalances(
        self, request: settlement_pb2.GetMyBalancesRequest, context: Any
    ) -> settlement_pb2.MyBalances:
        caller = require_caller()
        mine = await self._uc.my_balances(caller.user_id, request.show_settled)
        return settlement_pb2.MyBalances(
            groups=[
                settlement_pb2.MyBalances.GroupEntry(
                    group=f"groups/{g.group_id}",
                    display_name=g.display_name,
                    direct=g.direct,
                    friend=f"users/{g.friend}" if g.friend else "",
                    net=_nets(g.nets),
                )
                for g in mine.groups
            ],
            total_owed_to_caller=_nets(mine.owed_to_caller),
            total_caller_owes=_nets(mine.caller_owes),
        )

    async def ListSimplifiedDebts(
        self, request: settlement_pb2.ListSimplifiedDebtsRequest, context: Any
    ) -> settlement_pb2.ListSimplifiedDebtsResponse:
        caller = require_caller()
        group_id = names.group(request.group, "group")
        currency = (
            validation.currency_code(request.currency_code, "currency_code") if request.currency_code else ""
        )
        transfers, optimal = await self._uc.debts(caller.user_id, group_id, currency)
        return settlement_pb2.ListSimplifiedDebtsResponse(transfers=_transfers(transfers), optimal=optimal)

    async def ListConvertedDebts(
        self, request: settlement_pb2.ListConvertedDebtsRequest, context: Any
    ) -> settlement_pb2.ListConvertedDebtsResponse:
        caller = require_caller()
        group_id = names.group(request.group, "group")
        target = _target_currency(request.convert_to)
        on_or_before = _date(request.rates_date, "rates_date") if request.HasField("rates_date") else None
        result = await self._uc.converted_debts(caller.user_id, group_id, target, None, on_or_before)
        return _conversion(result)

    async def ConvertDebts(
        self, request: settlement_pb2.ConvertDebtsRequest, context: Any
    ) -> settlement_pb2.ListConvertedDebtsResponse:
        caller = require_caller()
        group_id = names.group(request.group, "group")
        target = _target_currency(request.convert_to)
        rates: dict[str, str] = {}
        for i, r in enumerate(request.rates):
            code = validation.currency_code(r.currency_code, f"rates[{i}].currency_code")
            if code in rates:
                raise InvalidArgument(f"rates[{i}].currency_code", f"{code} is given twice")
            rates[code] = domain.check_rate(r.rate, f"rates[{i}].rate")
        result = await self._uc.converted_debts(caller.user_id, group_id, target, rates)
        return _conversion(result)

    async def GetExchangeRates(
        self, request: settlement_pb2.GetExchangeRatesRequest, context: Any
    ) -> settlement_pb2.ExchangeRates:
        require_caller()
        base = validation.currency_code(request.base, "base") if request.base else DEFAULT_RATES_BASE
        on_or_before = _date(request.rates_date, "rates_date") if request.HasField("rates_date") else None
        reference, rates = await self._uc.exchange_rates(base, on_or_before)
        return settlement_pb2.ExchangeRates(
            base=base,
            rates_date=wire.date_pb(reference.day),
            source=reference.source,
            rates=[settlement_pb2.ExchangeRate(currency_code=c, rate=r) for c, r in rates.items()],
        )

    async def RefreshExchangeRates(
        self, request: settlement_pb2.RefreshExchangeRatesRequest, context: Any
    ) -> settlement_pb2.RefreshExchangeRatesResponse:
        require_internal()
        fetched, stored = await self._uc.refresh_rates()
        return settlement_pb2.RefreshExchangeRatesResponse(
            rates_date=wire.date_pb(fetched.day), currencies=len(fetched.per_base) + 1, stored=stored
        )

    async def CreateSettlement(
        self, request: settlement_pb2.CreateSettlementRequest, context: Any
    ) -> settlement_pb2.Settlement:
        caller = require_caller()
        group_id = names.group(request.parent, "parent")
        if not request.HasField("settlement"):
            raise InvalidArgument("settlement", "is required")
        new = _new_settlement(request.settlement)
        idempotency.validate_request_id(request.request_id)
        return await self._uc.create(
            caller.user_id, group_id, new, request, settlement_pb2.Settlement, settlement_proto
        )

    async def GetSettlement(
        self, request: settlement_pb2.GetSettlementRequest, context: Any
    ) -> settlement_pb2.Settlement:
        caller = require_caller()
        group_id, settlement_id = _settlement_name(request.name)
        return settlement_proto(await self._uc.get(caller.user_id, group_id, settlement_id))

    async def ListSettlements(
        self, request: settlement_pb2.ListSettlementsRequest, context: Any
    ) -> settlement_pb2.ListSettlementsResponse:
        caller = require_caller()
        group_id = names.group(request.parent, "parent")
        query = ListQuery(
            user=_user_id(request.user, "user") if request.user else "",
            start=_date(request.start_date, "start_date"),
            end=_date(request.end_date, "end_date"),
            show_deleted=request.show_deleted,
        )
        if query.start and query.end and query.start > query.end:
            raise InvalidArgument("end_date", "must not be before start_date")
        bound = {
            "group": group_id,
            "user": query.user,
            "start": str(query.start),
            "end": str(query.end),
            "deleted": query.show_deleted,
        }
        pager = pagination.Page.of(request, bound)
        found = await self._uc.list(caller.user_id, group_id, query, after=pager.after, limit=pager.limit)
        page, token = pager.cut(
            found, lambda last: [last.transaction_date.isoformat(), last.created_at.isoformat(), last.id]
        )
        return settlement_pb2.ListSettlementsResponse(
            settlements=[settlement_proto(s) for s in page], next_page_token=token
        )

    async def DeleteSettlement(
        self, request: settlement_pb2.DeleteSettlementRequest, context: Any
    ) -> settlement_pb2.Settlement:
        caller = require_caller()
        group_id, settlement_id = _settlement_name(request.name)
        return settlement_proto(
            await self._uc.set_deleted(caller.user_id, group_id, settlement_id, True, request.etag)
        )

    async def UndeleteSettlement(
        self, request: settlement_pb2.UndeleteSettlementRequest, context: Any
    ) -> settlement_pb2.Settlement:
        caller = require_caller()
        group_id, settlement_id = _settlement_name(request.name)
        return settlement_proto(
            await self._uc.set_deleted(caller.user_id, group_id, settlement_id, False, request.etag)
        )

    async def ListSettlementChanges(
        self, request: settlement_pb2.ListSettlementChangesRequest, context: Any
    ) -> settlement_pb2.ListSettlementChangesResponse:
        caller = require_caller().user_id
        group_id = names.group(request.parent, "parent", allow_every=True)
        # Cursors are tied to the feed they came from, never to a page size.
        bound = {"feed": group_id, "caller": caller}
        state = change_feed.decode(request.cursor, bound)
        size = change_feed.page_size(request.page_size)
        groups = await self._uc.feed_groups(caller, group_id, resuming=state is not None)
        page = await change_feed.read(state, groups, size, self._uc.changes, lambda s: s.change_key)
        noticed = wire.timestamp(clock.now())
        changes = [
            settlement_pb2.SettlementChange(
                change_type=settlement_pb2.SettlementChange.ACCESS_REVOKED,
                removed=f"groups/{g}",
                change_time=noticed,
            )
            for g in page.revoked
        ]
        for s in page.rows:
            change = settlement_pb2.SettlementChange(
                change_type=_CHANGE_TYPE[s.last_change],
                change_time=wire.timestamp(s.changed_at or s.created_at),
            )
            if s.deleted:
                change.removed = s.name
            else:
                change.settlement.CopyFrom(settlement_proto(s))
            changes.append(change)
        return settlement_pb2.ListSettlementChangesResponse(
            changes=changes, next_cursor=change_feed.encode(page.state, bound), has_more=page.has_more
        )

    async def GetUpiPaymentLink(
        self, request: settlement_pb2.GetUpiPaymentLinkRequest, context: Any
    ) -> settlement_pb2.UpiPaymentLink:
        caller = require_caller()
        group_id = names.group(request.group, "group")
        payee = _user_id(request.payee, "payee")
        if payee == caller.user_id:
            raise InvalidArgument("payee", "must be someone else: a payment to yourself settles nothing")
        if not request.HasField("amount"):
            raise InvalidArgument("amount", "is required")
        currency, amount = _amount(request.amount, "amount")
        if currency != domain.UPI_CURRENCY:
            raise InvalidArgument(
                "amount.currency_code",
                f"UPI pays in INR only; settle {currency} another way or convert it to INR first",
            )
        note = validation.text(request.note, "note", max_length=domain.MAX_UPI_NOTE)
        link = await self._uc.upi_link(caller.user_id, group_id, payee, amount, note)
        return settlement_pb2.UpiPaymentLink(
            uri=link.uri, qr_payload=link.uri, payee_vpa=link.vpa, payee_display_name=link.payee_display_name
        )

    async def GetMemberBalance(
        self, request: settlement_pb2.GetMemberBalanceRequest, context: Any
    ) -> settlement_pb2.MemberBalance:
        caller = require_caller()
        group_id = names.group(request.group, "group")
        user_id = _user_id(request.user, "user")
        nets = await self._uc.member_balance(caller.user_id, group_id, user_id, internal=is_internal(caller))
        return settlement_pb2.MemberBalance(user=f"users/{user_id}", net=_nets(nets))
