"""Group rosters (kind, members, display names) in the cache, for the ledger services.

Membership is checked on every expense write and every balance read. Asking
group-service each time costs a gRPC hop, a token check and a transaction there, so
group-service publishes each group's roster to Redis instead, and readers fall back
to its GetRoster RPC on a miss (or with Redis down), which publishes it again.

group-service is the only writer. It republishes after every membership change,
labelled with the group's version (bumped in the same transaction as the change), and
Redis keeps whichever copy is newest, so a slow reader-triggered publish of an older
roster cannot overwrite a removal. The TTL bounds the one case that is left: a change
whose republish failed because Redis was unreachable at that moment, but kept its data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError, Message
from hisaab.group.v1 import group_pb2, group_pb2_grpc

from libs.cache import Cache
from libs.errors import Unavailable

# Display names come from auth-service and are not republished when a user renames
# themself: a rename shows in balances within this time.
TTL_SECONDS = 60.0
_PREFIX = "roster"


@dataclass(frozen=True)
class Roster:
    group_id: str
    kind: str  # "trip", "home", "couple", "other" or "direct"
    version: int
    names: dict[str, str]  # user id → display name, one per member

    def members_among(self, user_ids: Iterable[str]) -> set[str]:
        return {u for u in user_ids if u in self.names}

    def to_proto(self) -> group_pb2.Roster:
        return group_pb2.Roster(
            name=f"groups/{self.group_id}/roster",
            kind=group_pb2.Group.Kind.Value(self.kind.upper()),
            version=self.version,
            members=[
                group_pb2.RosterMember(user=f"users/{u}", display_name=name) for u, name in self.names.items()
            ],
        )

    @classmethod
    def from_proto(cls, proto: group_pb2.Roster) -> Roster:
        return cls(
            group_id=proto.name.removeprefix("groups/").removesuffix("/roster"),
            kind=group_pb2.Group.Kind.Name(proto.kind).lower(),
            version=proto.version,
            names={m.user.removeprefix("users/"): m.display_name for m in proto.members},
        )


def _key(group_id: str) -> str:
    return f"{_PREFIX}:{group_id}"


def keys_for_request(request: Message) -> list[str]:
    """The roster a call about a group reads: that of the group its resource name starts with
    (``parent``, ``group`` or ``name``), for the gate to read ahead (``libs.cache``)."""
    for field in ("parent", "group", "name"):
        value = getattr(request, field, None)
        if isinstance(value, str) and value.startswith("groups/"):
            group_id = value.split("/", 2)[1]
            return [_key(group_id)] if group_id else []
    return []


class RosterCache:
    """Reads (every service) and publishes (group-service only) cached rosters."""

    def __init__(self, cache: Cache, *, ttl_seconds: float = TTL_SECONDS):
        self._cache = cache
        self._ttl = ttl_seconds

    @classmethod
    def from_url(cls, redis_url: str) -> RosterCache:
        # The key space is shared by every service, so it is not under a service prefix.
        return cls(Cache(redis_url, prefix=_PREFIX))

    def keys(self, group_id: str) -> list[str]:
        """What ``cached`` reads for the group, for a caller's ``Cache.read_ahead``."""
        return [_key(group_id)]

    async def cached(self, group_id: str) -> Roster | None:
        found = await self._cache.get_versioned(_key(group_id))
        if found is None:
            return None
        try:
            roster = Roster.from_proto(group_pb2.Roster.FromString(found[1]))
        except DecodeError:
            return None
        return roster if roster.group_id == group_id else None

    async def get(self, group_id: str, groups: group_pb2_grpc.GroupServiceAsyncStub) -> Roster | None:
        """The cached roster, else group-service's GetRoster (which republishes it); None when
        the group does not exist or the caller (whose token the stub forwards) is not in it."""
        cached = await self.cached(group_id)
        if cached is not None:
            return cached
        try:
            found = await groups.GetRoster(group_pb2.GetRosterRequest(name=f"groups/{group_id}/roster"))
        except grpc.aio.AioRpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise Unavailable("the group directory did not answer; retry") from err
        return Roster.from_proto(found)

    async def publish(self, roster: Roster) -> None:
        await self._cache.set_versioned(
            _key(roster.group_id), roster.version, roster.to_proto().SerializeToString(), self._ttl
        )

    async def close(self) -> None:
        await self._cache.close()
