"""What the contract says about each method (public, internal callers, required feature, quota),
read once at start-up."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from google.api import annotations_pb2
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool
from hisaab.common.v1 import options_pb2
from hisaab.options.v1 import internal_pb2


@dataclass(frozen=True)
class MethodRules:
    path: str  # "/hisaab.auth.v1.AuthService/GetMe"
    public: bool
    requires_feature: str
    quota_key: str
    quota_lifted_by: str
    has_http: bool
    # The services allowed to call an internal method; None when the contract names none.
    callers: frozenset[str] | None = None

    @property
    def internal(self) -> bool:
        """No REST binding: only our own services call it, each named in ``callers``."""
        return not self.has_http


def _options(method: descriptor.MethodDescriptor) -> descriptor_pb2.MethodOptions:
    opts = descriptor_pb2.MethodOptions()
    opts.ParseFromString(method.GetOptions().SerializeToString())
    return opts


def method_rules(service_full_name: str) -> dict[str, MethodRules]:
    service = descriptor_pool.Default().FindServiceByName(service_full_name)
    rules: dict[str, MethodRules] = {}
    for method in service.methods:
        opts = _options(method)
        quota = opts.Extensions[options_pb2.quota]
        path = f"/{service_full_name}/{method.name}"
        rules[path] = MethodRules(
            path=path,
            public=opts.Extensions[options_pb2.public],
            requires_feature=opts.Extensions[options_pb2.requires_feature],
            quota_key=quota.key,
            quota_lifted_by=quota.lifted_by_feature,
            has_http=opts.HasExtension(annotations_pb2.http),
            callers=(
                frozenset(opts.Extensions[internal_pb2.internal].callers)
                if opts.HasExtension(internal_pb2.internal)
                else None
            ),
        )
    return rules


@functools.cache
def is_internal_method(path: str) -> bool:
    """Whether ``/package.Service/Method`` is internal (no REST binding); False if unknown."""
    service, _, name = path.lstrip("/").rpartition("/")
    try:
        method = descriptor_pool.Default().FindMethodByName(f"{service}.{name}")
    except KeyError:
        return False
    return not _options(method).HasExtension(annotations_pb2.http)
