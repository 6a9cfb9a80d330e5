"""Every internal method, on its service's own port: users and unlisted services are refused.

The methods come from the contract (no google.api.http binding), so a new internal
method is covered here without writing a test for it.
"""

from __future__ import annotations

import importlib

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory

from libs.catalog import SERVICES
from libs.rpc.descriptors import MethodRules, method_rules
from tests.support import Api, service_token

pytestmark = pytest.mark.e2e

REFUSED = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)


def _internal_methods() -> list[tuple[str, MethodRules]]:
    found = []
    for spec in SERVICES:
        importlib.import_module(f"hisaab.{spec.name}.v1.{spec.name}_pb2")
        found += [(spec.name, r) for r in method_rules(spec.grpc_service).values() if r.internal]
    return found


INTERNAL = _internal_methods()


def _code(channel: grpc.Channel, rules: MethodRules, token: str) -> grpc.StatusCode:
    service, _, name = rules.path.lstrip("/").rpartition("/")
    method = descriptor_pool.Default().FindMethodByName(f"{service}.{name}")
    request_type = message_factory.GetMessageClass(method.input_type)
    response_type = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(
        rules.path,
        request_serializer=request_type.SerializeToString,
        response_deserializer=response_type.FromString,
    )
    try:
        call(request_type(), metadata=(("authorization", f"Bearer {token}"),), timeout=30)
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def test_the_contract_has_internal_methods_for_every_declared_caller() -> None:
    assert len(INTERNAL) >= 15
    assert all(rules.callers for _, rules in INTERNAL)


@pytest.mark.parametrize(("owner", "rules"), INTERNAL, ids=[r.path for _, r in INTERNAL])
def test_internal_method_answers_only_its_callers(api: Api, owner: str, rules: MethodRules) -> None:
    assert rules.callers
    user = api.sign_in()
    outsider = next(s.name for s in SERVICES if s.name not in rules.callers)
    allowed = sorted(rules.callers)[0]
    with grpc.insecure_channel(api.stack.address(owner)) as channel:
        assert _code(channel, rules, user.access_token) == grpc.StatusCode.PERMISSION_DENIED
        assert _code(channel, rules, service_token(api.stack, outsider)) == grpc.StatusCode.PERMISSION_DENIED
        assert _code(channel, rules, service_token(api.stack, allowed)) not in REFUSED
