"""Adapters from the ports to group- and auth-service gRPC stubs (the caller's token is forwarded)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import grpc
from hisaab.common.v1 import money_pb2
from hisaab.group.v1 import group_pb2, group_pb2_grpc
from hisaab.settlement.v1 import settlement_pb2, settlement_pb2_grpc

from libs import wire
from libs.clients.rosters import RosterCache
from libs.clients.users import UserDirectory
from libs.errors import Unavailable
from services.expense.ports import PresetView


class GroupDirectory:
    def __init__(self, channel: grpc.aio.Channel, rosters: RosterCache):
        self._stub = group_pb2_grpc.GroupServiceStub(channel)
        self._rosters = rosters

    async def members_among(self, group_id: str, user_ids: Sequence[str]) -> set[str] | None:
        roster = await self._rosters.get(group_id, self._stub)
        return None if roster is None else roster.members_among(user_ids)

    async def groups_of_caller(self) -> list[str]:
        found: list[str] = []
        token = ""
        try:
            while True:
                page = await self._stub.ListGroups(
                    group_pb2.ListGroupsRequest(page_size=100, page_token=token, show_archived=True)
                )
                found += [g.group_id for g in page.groups]
                token = page.next_page_token
                if not token:
                    return found
        except grpc.aio.AioRpcError as err:
            raise Unavailable("the group directory did not answer") from err


_PRESET_MODES = {
    group_pb2.SplitPreset.EQUAL: "equal",
    group_pb2.SplitPreset.PERCENT: "percent",
    group_pb2.SplitPreset.SHARES: "shares",
    group_pb2.SplitPreset.EXACT: "exact",
}


class GroupPresets:
    """Split presets through group-service's public GetSplitPreset (the caller's token is forwarded)."""

    def __init__(self, channel: grpc.aio.Channel):
        self._stub = group_pb2_grpc.GroupServiceStub(channel)

    async def preset(self, group_id: str, preset_id: str) -> PresetView | None:
        request = group_pb2.GetSplitPresetRequest(name=f"groups/{group_id}/splitPresets/{preset_id}")
        try:
            found = await self._stub.GetSplitPreset(request)
        except grpc.aio.AioRpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise Unavailable("the group directory did not answer; retry with the same request_id") from err
        return PresetView(
            name=found.name,
            mode=_PRESET_MODES.get(found.mode, ""),
            entries=tuple((e.user.removeprefix("users/"), e.value) for e in found.entries),
            currency_code=found.currency_code,
            departed=tuple(u.removeprefix("users/") for u in found.departed_users),
        )


class DisplayNames:
    def __init__(self, channel: grpc.aio.Channel):
        self._users = UserDirectory(channel)

    async def display_names(self, user_ids: Sequence[str]) -> dict[str, str]:
        return {i: u.display_name for i, u in (await self._users.users(user_ids)).items()}

    async def names_and_locale(self, user_ids: Sequence[str], reader: str) -> tuple[dict[str, str], str]:
        found = await self._users.users([*user_ids, reader])
        me = found.get(reader)
        return {i: found[i].display_name for i in user_ids if i in found}, me.locale if me else ""


class GroupSnapshot:
    """Group and member names as the caller sees them (group-service's public RPCs)."""

    def __init__(self, channel: grpc.aio.Channel):
        self._stub = group_pb2_grpc.GroupServiceStub(channel)

    async def snapshot(self, group_id: str) -> tuple[str, dict[str, str]]:
        name = f"groups/{group_id}"
        try:
            group = await self._stub.GetGroup(group_pb2.GetGroupRequest(name=name))
            members: dict[str, str] = {}
            token = ""
            while True:
                page = await self._stub.ListMembers(
                    group_pb2.ListMembersRequest(parent=name, page_size=100, page_token=token)
                )
                for m in page.members:
                    user_id = m.user.removeprefix("users/")
                    members[user_id] = (
                        m.display_name or m.invited_phone_number or m.invited_email or user_id[:8]
                    )
                token = page.next_page_token
                if not token:
                    return group.display_name or "Friend ledger", members
        except grpc.aio.AioRpcError as err:
            raise Unavailable("the group directory did not answer") from err


class SettlementRecorder:
    def __init__(self, channel: grpc.aio.Channel):
        self._stub = settlement_pb2_grpc.SettlementServiceStub(channel)

    async def record(
        self,
        group_id: str,
        *,
        payer: str,
        payee: str,
        currency: str,
        amount_minor: int,
        when: date,
        note: str,
        request_id: str,
    ) -> str:
        request = settlement_pb2.CreateSettlementRequest(
            parent=f"groups/{group_id}",
            settlement=settlement_pb2.Settlement(
                payer=f"users/{payer}",
                payee=f"users/{payee}",
                amount=money_pb2.Money(currency_code=currency, amount_minor=amount_minor),
                transaction_date=wire.date_pb(when),
                note=note,
                method=settlement_pb2.Settlement.OTHER,
            ),
            request_id=request_id,
        )
        try:
            created = await self._stub.CreateSettlement(request)
        except grpc.aio.AioRpcError as err:
            raise Unavailable(f"settlement-service refused the payment: {err.details()}") from err
        return str(created.name)
