"""Adapters from the ports to auth- and settlement-service, called with the service's own token."""

from __future__ import annotations

import logging

import grpc
from hisaab.auth.v1 import auth_pb2, auth_pb2_grpc
from hisaab.settlement.v1 import settlement_pb2, settlement_pb2_grpc

from libs.auth.service_identity import ServiceToken
from libs.clients.users import UserDirectory, batches
from libs.errors import Unavailable
from services.notification.ports import Device, Profile

log = logging.getLogger("hisaab.notification.peers")

_PLATFORM = {auth_pb2.Device.ANDROID: "ANDROID", auth_pb2.Device.IOS: "IOS"}


class AuthDirectory:
    def __init__(self, channel: grpc.aio.Channel, identity: ServiceToken):
        self._stub = auth_pb2_grpc.AuthServiceStub(channel)
        self._identity = identity
        self._users = UserDirectory(channel, identity.metadata)

    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        return {
            i: Profile(
                user_id=u.user_id,
                display_name=u.display_name,
                locale=u.locale,
                phone_number=u.phone_number,
                email=u.email,
                placeholder=u.state == auth_pb2.User.PLACEHOLDER,
            )
            for i, u in (await self._users.users(user_ids)).items()
        }

    async def devices(self, user_ids: list[str]) -> dict[str, list[Device]]:
        out: dict[str, list[Device]] = {u: [] for u in user_ids}
        for users in batches(user_ids):
            try:
                answer = await self._stub.BatchGetDevices(
                    auth_pb2.BatchGetDevicesRequest(users=users), metadata=self._identity.metadata()
                )
            except grpc.aio.AioRpcError as err:
                raise Unavailable("the device directory did not answer") from err
            for entry in answer.entries:
                user_id = entry.user.removeprefix("users/")
                out[user_id] = [
                    Device(user_id, _PLATFORM[d.platform], d.push_token)
                    for d in entry.devices
                    if d.platform in _PLATFORM
                ]
        return out


class SettlementBalances:
    def __init__(self, channel: grpc.aio.Channel, identity: ServiceToken):
        self._stub = settlement_pb2_grpc.SettlementServiceStub(channel)
        self._identity = identity

    async def member_balance(self, group_id: str, user_id: str) -> dict[str, int]:
        try:
            answer = await self._stub.GetMemberBalance(
                settlement_pb2.GetMemberBalanceRequest(group=f"groups/{group_id}", user=f"users/{user_id}"),
                metadata=self._identity.metadata(),
            )
        except grpc.aio.AioRpcError as err:
            if err.code() is grpc.StatusCode.NOT_FOUND:
                # The group is gone, or settlement-service does not let this service see it:
                # no reminder rather than a job that fails forever.
                log.warning("no balance visible", extra={"group": group_id, "why": err.details()})
                return {}
            raise Unavailable("the settlement service did not answer") from err
        return {m.currency_code: int(m.amount_minor) for m in answer.net}
