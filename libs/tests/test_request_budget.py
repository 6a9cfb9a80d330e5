"""A stuck or failed dependency costs a prompt, retriable answer: the pipeline's request
budget and its mapping of database failures (over a real grpc.aio server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hisaab.auth.v1 import auth_pb2, auth_pb2_grpc
from psycopg import errors as pg_errors
from sqlalchemy import exc as sa_exc

from libs.auth.jwks import JwksCache
from libs.auth.verifier import TokenVerifier
from libs.db.failures import retriable_error
from libs.errors import Unavailable
from libs.rpc import budget
from libs.rpc.descriptors import method_rules
from libs.rpc.pipeline import ServerPipeline
from libs.tests.test_pipeline import CLIENT, ISSUER, JWK, token

BUDGET = 0.3


async def _frozen_query() -> None:
    """What a query on a frozen server does: it outlives its first cancellation (psycopg
    asks the server to cancel it, and waits for an answer that does not come)."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await asyncio.sleep(5)
        raise


def _raises(err: Exception) -> Callable[[], Any]:
    async def fail() -> None:
        raise err

    return fail


class Servicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self) -> None:
        self.behaviour: Callable[[], Any] = _frozen_query

    async def GetMe(self, request: Any, context: Any) -> auth_pb2.User:
        await self.behaviour()
        return auth_pb2.User(user_id="u1")


@pytest.fixture
async def served() -> AsyncIterator[tuple[auth_pb2_grpc.AuthServiceStub, Servicer]]:
    verifier = TokenVerifier(JwksCache(lambda: {"keys": [JWK]}), issuer=ISSUER, client_id=CLIENT)
    pipeline = ServerPipeline(verifier, method_rules("hisaab.auth.v1.AuthService"), request_timeout=BUDGET)
    server = grpc.aio.server(interceptors=[pipeline])
    servicer = Servicer()  # type: ignore[abstract]
    auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield auth_pb2_grpc.AuthServiceStub(channel), servicer
    await server.stop(None)


async def _fails(stub: Any) -> tuple[grpc.StatusCode, str, float]:
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetMe(auth_pb2.GetMeRequest(), metadata=(("authorization", f"Bearer {token()}"),))
    status = rpc_status.from_call(err.value)  # type: ignore[arg-type]
    reason = ""
    if status is not None and status.details:
        info = error_details_pb2.ErrorInfo()
        assert status.details[0].Unpack(info)
        reason = info.reason
    return err.value.code(), reason, time.monotonic() - started


async def test_a_stuck_request_answers_deadline_exceeded_within_its_budget(served: Any) -> None:
    stub, _ = served
    code, reason, seconds = await _fails(stub)
    assert (code, reason) == (grpc.StatusCode.DEADLINE_EXCEEDED, "REQUEST_TIMEOUT")
    assert seconds < BUDGET + 2  # not the 5 s the cancelled work takes to unwind


async def test_work_within_the_budget_is_answered(served: Any) -> None:
    stub, servicer = served
    servicer.behaviour = lambda: asyncio.sleep(0.01)
    me = await stub.GetMe(auth_pb2.GetMeRequest(), metadata=(("authorization", f"Bearer {token()}"),))
    assert me.user_id == "u1"


@pytest.mark.parametrize(
    ("failure", "code", "reason"),
    [
        (sa_exc.TimeoutError("QueuePool limit reached"), grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE"),
        (
            sa_exc.OperationalError("SELECT 1", {}, pg_errors.QueryCanceled("statement timeout")),
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "DATABASE_TIMEOUT",
        ),
        (
            sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed the connection")),
            grpc.StatusCode.UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
        ),
        (psycopg.OperationalError("connection refused"), grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE"),
    ],
)
async def test_database_failures_are_retriable_with_error_info(
    served: Any, failure: Exception, code: grpc.StatusCode, reason: str
) -> None:
    stub, servicer = served
    servicer.behaviour = _raises(failure)
    assert (await _fails(stub))[:2] == (code, reason)


async def test_requests_running_when_the_server_closes_answer_unavailable() -> None:
    closing = budget.Closing()
    asyncio.get_running_loop().call_later(0.1, closing.set)
    started = time.monotonic()
    with pytest.raises(Unavailable) as err:
        await budget.within(_frozen_query(), 30.0, closing)
    assert err.value.reason == "SHUTTING_DOWN" and time.monotonic() - started < 2
    with pytest.raises(Unavailable):  # and so does one that starts after
        await budget.within(_frozen_query(), 30.0, closing)


def test_other_errors_stay_internal() -> None:
    assert retriable_error(sa_exc.IntegrityError("INSERT", {}, psycopg.IntegrityError("dup"))) is None
    assert retriable_error(ValueError("bug")) is None


def test_the_callers_nearer_deadline_wins() -> None:
    assert budget.remaining(10.0, None) == 10.0
    assert budget.remaining(10.0, 2.5) == 2.5
    assert budget.remaining(1.0, 2.5) == 1.0
    assert budget.remaining(1.0, -1.0) == 0.0
