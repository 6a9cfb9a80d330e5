"""Adapters from the ports to other services' gRPC stubs."""

from __future__ import annotations

import grpc
from hisaab.auth.v1 import auth_pb2, auth_pb2_grpc
from hisaab.settlement.v1 import settlement_pb2, settlement_pb2_grpc

from libs.clients.users import UserDirectory
from libs.errors import Unavailable
from services.group.ports import Profile


class AuthDirectory:
    def __init__(self, channel: grpc.aio.Channel):
        self._stub = auth_pb2_grpc.AuthServiceStub(channel)
        self._users = UserDirectory(channel)

    async def ensure(self, *, phone_number: str = "", email: str = "", display_name: str = "") -> str:
        request = auth_pb2.EnsureUserRequest(display_name=display_name)
        if phone_number:
            request.phone_number = phone_number
        else:
            request.email = email
        try:
            user = await self._stub.EnsureUser(request)
        except grpc.aio.AioRpcError as err:
            raise Unavailable("the user directory did not answer; retry with the same request_id") from err
        return str(user.user_id)

    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        found = await self._users.users(user_ids)
        return {i: Profile(u.display_name, u.state == auth_pb2.User.PLACEHOLDER) for i, u in found.items()}


class SettlementBalances:
    """Balances from settlement-service, which reads them from the ledger's writer."""

    def __init__(self, channel: grpc.aio.Channel):
        self._stub = settlement_pb2_grpc.SettlementServiceStub(channel)

    async def is_settled(self, group_id: str, user_id: str) -> bool:
        try:
            balance = await self._stub.GetMemberBalance(
                settlement_pb2.GetMemberBalanceRequest(group=f"groups/{group_id}", user=f"users/{user_id}")
            )
        except grpc.aio.AioRpcError as err:
            # Not knowing the balance must not let anyone leave with money outstanding.
            raise Unavailable("balances could not be checked; retry") from err
        return not any(m.amount_minor for m in balance.net)
