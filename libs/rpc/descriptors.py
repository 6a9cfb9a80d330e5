"""What the contract says about each method (public, required feature, quota), read once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from hisaab.common.v1 import options_pb2


@dataclass(frozen=True)
class MethodRules:
    path: str  # "/hisaab.auth.v1.AuthService/GetMe"
    public: bool
    requires_feature: str
    quota_key: str
    quota_lifted_by: str
    has_http: bool


def method_rules(service_full_name: str) -> dict[str, MethodRules]:
    service = descriptor_pool.Default().FindServiceByName(service_full_name)
    rules: dict[str, MethodRules] = {}
    for method in service.methods:
        opts = descriptor_pb2.MethodOptions()
        opts.ParseFromString(method.GetOptions().SerializeToString())
        quota = opts.Extensions[options_pb2.quota]
        path = f"/{service_full_name}/{method.name}"
        rules[path] = MethodRules(
            path=path,
            public=opts.Extensions[options_pb2.public],
            requires_feature=opts.Extensions[options_pb2.requires_feature],
            quota_key=quota.key,
            quota_lifted_by=quota.lifted_by_feature,
            has_http=opts.HasExtension(annotations_pb2.http),
        )
    return rules
