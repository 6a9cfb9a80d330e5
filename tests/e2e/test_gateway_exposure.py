"""The gateway exposes exactly the RPCs bound to REST: internal RPCs stay internal, even over raw gRPC."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from hisaab.auth.v1 import auth_pb2, auth_pb2_grpc
from hisaab.group.v1 import group_pb2, group_pb2_grpc

from tests.support import Api

pytestmark = pytest.mark.e2e


def test_raw_grpc_reaches_bound_methods_but_not_internal_ones(api: Api) -> None:
    user = api.sign_in()
    auth = (("authorization", f"Bearer {user.access_token}"),)
    with grpc.insecure_channel(f"127.0.0.1:{api.stack.ports.gateway}") as channel:
        me = auth_pb2_grpc.AuthServiceStub(channel).GetMe(auth_pb2.GetMeRequest(), metadata=auth, timeout=10)
        assert me.user_id == user.user_id

        internal: list[Callable[[], object]] = [
            lambda: auth_pb2_grpc.AuthServiceStub(channel).EnsureUser(
                auth_pb2.EnsureUserRequest(phone_number="+919811111111"), metadata=auth, timeout=10
            ),
            lambda: auth_pb2_grpc.AuthServiceStub(channel).BatchGetUsers(
                auth_pb2.BatchGetUsersRequest(names=[f"users/{user.user_id}"]), metadata=auth, timeout=10
            ),
            lambda: group_pb2_grpc.GroupServiceStub(channel).GetRoster(
                group_pb2.GetRosterRequest(name="groups/00000000-0000-0000-0000-000000000000/roster"),
                metadata=auth,
                timeout=10,
            ),
        ]
        for call in internal:
            with pytest.raises(grpc.RpcError) as refused:
                call()
            assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED  # HTTP 404 from the gateway
