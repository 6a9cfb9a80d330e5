"""Internal methods (no REST binding) answer only the services the contract names.

Over a real grpc.aio server with the kit's pipeline, and the peers channel that
calls it: the contract's rule, deny by default, and how a user is relayed.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hisaab.auth.v1 import auth_pb2, auth_pb2_grpc

from libs.auth.caller import Caller, require_caller, reset_caller, set_caller
from libs.auth.jwks import JwksCache
from libs.auth.verifier import TokenVerifier
from libs.catalog import SERVICES
from libs.rpc.descriptors import is_internal_method, method_rules
from libs.rpc.internal import USER_HEADER
from libs.rpc.peers import channel
from libs.rpc.pipeline import ServerPipeline

ISSUER, APP = "https://issuer.test", "app"
CLIENTS = {f"client-{s.name}": s.name for s in SERVICES}
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWK = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1", "alg": "RS256"}
AUTH = "hisaab.auth.v1.AuthService"


def user_token(sub: str = "u1") -> str:
    return _sign({"sub": sub, "client_id": APP, "scope": "aws.cognito.signin.user.admin"})


def service_token(service: str) -> str:
    client = f"client-{service}"
    return _sign({"sub": client, "client_id": client, "scope": "hisaab/internal"})


def _sign(claims: dict[str, Any]) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "token_use": "access", "iat": now, "exp": now + 60, **claims}
    return jwt.encode(body, KEY, algorithm="RS256", headers={"kid": "k1"})


class Servicer(auth_pb2_grpc.AuthServiceServicer):
    async def BatchGetUsers(self, request: Any, context: Any) -> auth_pb2.BatchGetUsersResponse:
        caller = require_caller()
        # Echo who the handler sees: the user id, or the service acting for itself.
        return auth_pb2.BatchGetUsersResponse(
            users=[auth_pb2.User(user_id=caller.user_id, display_name=caller.via or caller.service)]
        )

    async def BatchGetDevices(self, request: Any, context: Any) -> auth_pb2.BatchGetDevicesResponse:
        return auth_pb2.BatchGetDevicesResponse()

    async def EnsureUser(self, request: Any, context: Any) -> auth_pb2.User:
        return auth_pb2.User(user_id="ensured")


async def _serve(rules: Any) -> tuple[grpc.aio.Server, str]:
    verifier = TokenVerifier(
        JwksCache(lambda: {"keys": [JWK]}), issuer=ISSUER, client_id=APP, service_clients=CLIENTS
    )
    server = grpc.aio.server(interceptors=[ServerPipeline(verifier, rules)])
    auth_pb2_grpc.add_AuthServiceServicer_to_server(Servicer(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def address() -> AsyncIterator[str]:
    server, where = await _serve(method_rules(AUTH))
    yield where
    await server.stop(None)


def _metadata(token: str, user: str | None = None) -> tuple[tuple[str, str], ...]:
    extra = ((USER_HEADER, user),) if user is not None else ()
    return (("authorization", f"Bearer {token}"), *extra)


def _reason(err: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return str(info.reason)


async def _refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


def test_every_internal_method_names_its_callers() -> None:
    """The contract test: a new internal method fails here until it says who may call it."""
    known = {s.name for s in SERVICES}
    for spec in SERVICES:  # registers each contract in the default descriptor pool
        importlib.import_module(f"hisaab.{spec.name}.v1.{spec.name}_pb2")
    internal = {
        path: rules
        for spec in SERVICES
        for path, rules in method_rules(spec.grpc_service).items()
        if rules.internal
    }
    assert "/hisaab.auth.v1.AuthService/BatchGetDevices" in internal
    for path, rules in internal.items():
        assert rules.callers, f"{path} has no google.api.http binding and no (hisaab.options.v1.internal)"
        assert rules.callers <= known, f"{path} names unknown services {sorted(rules.callers - known)}"
        assert is_internal_method(path)
    assert not is_internal_method("/hisaab.auth.v1.AuthService/GetMe")


async def test_users_and_unlisted_services_are_refused(address: str) -> None:
    request = auth_pb2.BatchGetDevicesRequest(users=["users/u1"])
    async with grpc.aio.insecure_channel(address) as ch:
        stub = auth_pb2_grpc.AuthServiceStub(ch)
        user = await _refused(stub.BatchGetDevices(request, metadata=_metadata(user_token())))
        assert user.code() == grpc.StatusCode.PERMISSION_DENIED
        assert _reason(user) == "SERVICE_IDENTITY_REQUIRED"
        # A user's token relayed in the user header does not stand in for a service's.
        relayed = await _refused(
            stub.BatchGetDevices(request, metadata=_metadata(user_token(), user_token("u2")))
        )
        assert relayed.code() == grpc.StatusCode.PERMISSION_DENIED
        other = await _refused(stub.BatchGetDevices(request, metadata=_metadata(service_token("expense"))))
        assert other.code() == grpc.StatusCode.PERMISSION_DENIED
        missing = await _refused(stub.BatchGetDevices(request))
        assert missing.code() == grpc.StatusCode.UNAUTHENTICATED
        assert await stub.BatchGetDevices(request, metadata=_metadata(service_token("notification")))


async def test_a_service_relays_a_user_it_cannot_invent(address: str) -> None:
    request = auth_pb2.BatchGetUsersRequest(names=["users/u1"])
    async with grpc.aio.insecure_channel(address) as ch:
        stub = auth_pb2_grpc.AuthServiceStub(ch)
        alone = await stub.BatchGetUsers(request, metadata=_metadata(service_token("group")))
        assert (alone.users[0].user_id, alone.users[0].display_name) == ("service:group", "group")
        relayed = await stub.BatchGetUsers(
            request, metadata=_metadata(service_token("group"), user_token("u7"))
        )
        assert (relayed.users[0].user_id, relayed.users[0].display_name) == ("u7", "group")
        forged = await _refused(
            stub.BatchGetUsers(request, metadata=_metadata(service_token("group"), "not-a-token"))
        )
        assert forged.code() == grpc.StatusCode.UNAUTHENTICATED
        as_user = await _refused(
            stub.BatchGetUsers(request, metadata=_metadata(service_token("group"), service_token("expense")))
        )
        assert as_user.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_internal_method_without_a_declaration_is_refused_to_everyone() -> None:
    rules = {
        path: dataclasses.replace(r, callers=None) if r.internal else r
        for path, r in method_rules(AUTH).items()
    }
    server, where = await _serve(rules)
    try:
        async with grpc.aio.insecure_channel(where) as ch:
            stub = auth_pb2_grpc.AuthServiceStub(ch)
            for service in SERVICES:
                err = await _refused(
                    stub.EnsureUser(
                        auth_pb2.EnsureUserRequest(), metadata=_metadata(service_token(service.name))
                    )
                )
                assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await server.stop(None)


class FixedIdentity:
    """Stands in for libs.auth.service_identity.ServiceToken (no key file, no Cognito)."""

    def __init__(self, service: str):
        self.service = service

    def token(self) -> str:
        return service_token(self.service)


async def test_the_peers_channel_sends_its_identity_and_the_user(address: str) -> None:
    ch = channel(address, identity=FixedIdentity("group"))
    stub = auth_pb2_grpc.AuthServiceStub(ch)
    try:
        alone = await stub.BatchGetUsers(auth_pb2.BatchGetUsersRequest())
        assert alone.users[0].user_id == "service:group"
        token = set_caller(Caller("u9", user_token("u9")))
        try:
            relayed = await stub.BatchGetUsers(auth_pb2.BatchGetUsersRequest())
            assert (relayed.users[0].user_id, relayed.users[0].display_name) == ("u9", "group")
            # group is not among BatchGetDevices' callers, whoever it acts for.
            denied = await _refused(stub.BatchGetDevices(auth_pb2.BatchGetDevicesRequest()))
            assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
        finally:
            reset_caller(token)
    finally:
        await ch.close(None)
