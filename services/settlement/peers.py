"""Adapters from the ports to group- and auth-service stubs (the caller's token is forwarded)."""

from __future__ import annotations

import grpc
from hisaab.group.v1 import group_pb2, group_pb2_grpc

from libs.clients.rosters import Roster, RosterCache
from libs.clients.users import UserDirectory
from libs.errors import NotFound, Unavailable
from services.settlement.ports import GroupInfo, Member, Profile

GROUP_NOT_FOUND = "group not found"
# Largest page group-service serves (libs.pagination.MAX_PAGE_SIZE).
_PAGE = 100


def _unavailable(what: str) -> Unavailable:
    return Unavailable(f"{what} did not answer; retry")


class GroupDirectory:
    def __init__(self, channel: grpc.aio.Channel, rosters: RosterCache):
        self._stub = group_pb2_grpc.GroupServiceStub(channel)
        self._rosters = rosters

    async def _roster(self, group_id: str) -> Roster:
        roster = await self._rosters.get(group_id, self._stub)
        if roster is None:
            raise NotFound(GROUP_NOT_FOUND)
        return roster

    async def members(self, group_id: str) -> list[Member]:
        return [Member(u, name) for u, name in (await self._roster(group_id)).names.items()]

    async def members_among(self, group_id: str, user_ids: list[str]) -> set[str]:
        return (await self._roster(group_id)).members_among(user_ids)

    def cache_keys(self, group_id: str) -> list[str]:
        return self._rosters.keys(group_id)

    async def my_groups(self) -> list[GroupInfo]:
        out: list[GroupInfo] = []
        token = ""
        while True:
            try:
                page = await self._stub.ListGroups(
                    group_pb2.ListGroupsRequest(page_size=_PAGE, page_token=token, show_archived=True)
                )
            except grpc.aio.AioRpcError as err:
                raise _unavailable("the group service") from err
            out += [
                GroupInfo(g.group_id, g.display_name, g.kind == group_pb2.Group.DIRECT) for g in page.groups
            ]
            token = page.next_page_token
            if not token:
                return out


class UserProfiles:
    def __init__(self, channel: grpc.aio.Channel):
        self._users = UserDirectory(channel)

    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        found = await self._users.users(user_ids)
        return {i: Profile(u.display_name, u.upi_vpa) for i, u in found.items()}
