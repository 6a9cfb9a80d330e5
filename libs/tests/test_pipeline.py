"""The server pipeline over a real grpc.aio server: auth per the contract, then the handler, no leaks."""

from __future__ import annotations

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

from libs.auth.caller import require_caller
from libs.auth.jwks import JwksCache
from libs.auth.verifier import TokenVerifier
from libs.errors import InvalidArgument, NotAllowed
from libs.rpc.descriptors import method_rules
from libs.rpc.pipeline import ServerPipeline

ISSUER, CLIENT = "https://issuer.test", "client"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWK = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1", "alg": "RS256"}


def token(sub: str = "u1") -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "sub": sub, "client_id": CLIENT, "token_use": "access", "iat": now, "exp": now + 60,
    }  # fmt: skip
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})


class Servicer(auth_pb2_grpc.AuthServiceServicer):
    async def GetJwks(self, request: Any, context: Any) -> auth_pb2.JsonWebKeySet:  # public in the contract
        return auth_pb2.JsonWebKeySet()

    async def GetMe(self, request: Any, context: Any) -> auth_pb2.User:
        return auth_pb2.User(user_id=require_caller().user_id)

    async def UpdateMe(self, request: Any, context: Any) -> auth_pb2.User:
        raise InvalidArgument("user.locale", "must be a language tag")

    async def ListDevices(self, request: Any, context: Any) -> auth_pb2.ListDevicesResponse:
        raise RuntimeError("SELECT * FROM auth.users -- connection to 10.0.0.5 failed")

    async def RegisterDevice(self, request: Any, context: Any) -> auth_pb2.Device:
        raise NotAllowed("no", reason="FEATURE_REQUIRED", metadata={"feature": "receipts"})


@pytest.fixture
async def stub() -> AsyncIterator[auth_pb2_grpc.AuthServiceStub]:
    verifier = TokenVerifier(JwksCache(lambda: {"keys": [JWK]}), issuer=ISSUER, client_id=CLIENT)
    pipeline = ServerPipeline(verifier, method_rules("hisaab.auth.v1.AuthService"))
    server = grpc.aio.server(interceptors=[pipeline])
    auth_pb2_grpc.add_AuthServiceServicer_to_server(Servicer(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield auth_pb2_grpc.AuthServiceStub(channel)
    await server.stop(None)


def _auth(t: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {t}"),)


def _info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return info


async def test_public_method_needs_no_token(stub: Any) -> None:
    await stub.GetJwks(auth_pb2.GetJwksRequest())


async def test_protected_method_needs_a_valid_token(stub: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetMe(auth_pb2.GetMeRequest())
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as bad_scheme:
        await stub.GetMe(auth_pb2.GetMeRequest(), metadata=(("authorization", "Basic abc"),))
    assert bad_scheme.value.code() == grpc.StatusCode.UNAUTHENTICATED
    me = await stub.GetMe(auth_pb2.GetMeRequest(), metadata=_auth(token("asha")))
    assert me.user_id == "asha"


async def test_domain_error_carries_error_info(stub: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.UpdateMe(auth_pb2.UpdateMeRequest(user=auth_pb2.User(locale="x")), metadata=_auth(token()))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = _info(err.value)
    assert info.reason == "INVALID_FIELD" and info.metadata["field"] == "user.locale"


async def test_a_check_that_needs_the_caller_runs_after_authentication(stub: Any) -> None:
    device = auth_pb2.Device(platform=auth_pb2.Device.Platform.ANDROID, push_token="t")
    request = auth_pb2.RegisterDeviceRequest(device=device)
    with pytest.raises(grpc.aio.AioRpcError) as unauth:
        await stub.RegisterDevice(request)
    assert unauth.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await stub.RegisterDevice(request, metadata=_auth(token()))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _info(denied.value).metadata["feature"] == "receipts"


async def test_unexpected_errors_leak_nothing(stub: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListDevices(auth_pb2.ListDevicesRequest(), metadata=_auth(token()))
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert err.value.details() == "internal error"
    assert "SELECT" not in str(err.value.debug_error_string()) and "10.0.0.5" not in str(err.value)
    assert _info(err.value).reason == "INTERNAL"
