"""auth-service's user directory as every other service reads it: ``BatchGetUsers``,
split at the method's batch limit so a caller can ask for any number of users."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import grpc
from hisaab.auth.v1 import auth_pb2, auth_pb2_grpc

from libs.errors import Unavailable

# The most names BatchGetUsers (and BatchGetDevices) take in one request.
BATCH_LIMIT = 1000

Metadata = Callable[[], Sequence[tuple[str, str]]]


def batches(user_ids: Sequence[str]) -> list[list[str]]:
    """The ``users/<id>`` names of ``user_ids`` in requests of at most BATCH_LIMIT."""
    return [
        [f"users/{u}" for u in user_ids[i : i + BATCH_LIMIT]] for i in range(0, len(user_ids), BATCH_LIMIT)
    ]


class UserDirectory:
    """Users by id. ``metadata`` is the service's own identity for callers that have no
    signed-in user to forward (workers); otherwise the channel forwards the caller's."""

    def __init__(self, channel: grpc.aio.Channel, metadata: Metadata | None = None):
        self._stub = auth_pb2_grpc.AuthServiceStub(channel)
        self._metadata = metadata

    async def users(self, user_ids: Iterable[str]) -> dict[str, auth_pb2.User]:
        """Every known user among ``user_ids`` by id; unknown ids are left out."""
        out: dict[str, auth_pb2.User] = {}
        for names in batches(sorted(set(user_ids))):
            try:
                answer = await self._stub.BatchGetUsers(
                    auth_pb2.BatchGetUsersRequest(names=names),
                    metadata=self._metadata() if self._metadata else None,
                )
            except grpc.aio.AioRpcError as err:
                raise Unavailable("the user directory did not answer; retry") from err
            out.update((u.user_id, u) for u in answer.users)
        return out

    async def display_names(self, user_ids: Sequence[str]) -> dict[str, str]:
        """Display names by id, for ``libs.display_names``; unknown ids are left out."""
        return {i: u.display_name for i, u in (await self.users(user_ids)).items()}
