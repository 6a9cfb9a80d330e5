"""Envoy's share of the sign-in limits: a local rate limit per client address.

The numbers are ``libs.limits``'s, which the auth service and the AWS WAF rules also
read. Envoy finds the client's address from the connection and the
X-Forwarded-For hops it is told to trust (``trusted_hops``: in AWS one, the entry
API Gateway appends; the NLB in between works at TCP and adds nothing), then
writes it to ``x-hisaab-client-address`` for the services, overwriting anything a
client sent under that name.

The sign-in methods (those bound under ``/v1/auth:``) share one route that
carries the filter's configuration. Each request there makes two descriptors:
(gRPC method, address), which matches the start or the verify limit, and
(``auth``, address), shared by every sign-in call. A descriptor with an empty
address is a wildcard: Envoy keeps one token bucket per distinct address (up to
``ENVOY_TRACKED_ADDRESSES``), refilled whole once per window. Addresses listed as
unlimited get their own bottomless buckets, ahead of the wildcards. Buckets live
in one Envoy process: with N gateway replicas a client spread over them gets up to
N times the numbers; the service's count in PostgreSQL is the exact one.
"""

from __future__ import annotations

import re
from typing import Any

from libs import limits
from libs.limits import SignInLimits, Window
from libs.rpc.client_address import CLIENT_ADDRESS_HEADER

LOCAL_RATE_LIMIT = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
FILTER_NAME = "envoy.filters.http.local_ratelimit"
SIGN_IN_PREFIX = "/v1/auth:"
_KEY = "sign_in"
_ALL = "auth"
_METHOD = "method"
_ADDRESS: dict[str, Any] = {"remote_address": {}}
# The gRPC method of each limited action; other sign-in methods share only the ``auth`` bucket.
_ACTIONS = {"StartSignIn": "start", "VerifySignIn": "verify"}
# Exempt addresses: a bucket so large it never empties.
_UNLIMITED = Window(1_000_000_000, 1)


def _bucket(window: Window) -> dict[str, Any]:
    return {
        "max_tokens": window.limit,
        "tokens_per_fill": window.limit,
        "fill_interval": f"{window.seconds}s",
    }


def _windows(settings: SignInLimits) -> dict[str, Window]:
    return {
        "start": settings.starts_per_address,
        "verify": settings.verifies_per_address,
        _ALL: settings.auth_calls_per_address,
    }


def _descriptor(key: str, value: str, address: str, window: Window) -> dict[str, Any]:
    return {
        "entries": [{"key": key, "value": value}, {"key": "remote_address", "value": address}],
        "token_bucket": _bucket(window),
    }


def _percent(name: str) -> dict[str, Any]:
    return {"runtime_key": f"hisaab.sign_in_limit_{name}", "default_value": {"numerator": 100}}


def http_filter() -> dict[str, Any]:
    """The local rate limit filter; it acts only on routes that carry a configuration."""
    return {"name": FILTER_NAME, "typed_config": {"@type": LOCAL_RATE_LIMIT, "stat_prefix": "sign_in"}}


def _route_config(grpc_service: str, settings: SignInLimits) -> dict[str, Any]:
    per_method = {
        f"/{grpc_service}/{method}": _windows(settings)[action] for method, action in _ACTIONS.items()
    }
    every_call = settings.auth_calls_per_address
    descriptors = []
    for address in sorted(settings.unlimited_addresses):
        descriptors += [_descriptor(_METHOD, path, address, _UNLIMITED) for path in per_method]
        descriptors.append(_descriptor(_KEY, _ALL, address, _UNLIMITED))
    descriptors += [_descriptor(_METHOD, path, "", window) for path, window in per_method.items()]
    descriptors.append(_descriptor(_KEY, _ALL, "", every_call))
    return {
        "@type": LOCAL_RATE_LIMIT,
        "stat_prefix": "sign_in",
        # Required on a route; never drawn from, since every request matches a descriptor.
        "token_bucket": _bucket(_UNLIMITED),
        "always_consume_default_token_bucket": False,
        "filter_enabled": _percent("enabled"),
        "filter_enforced": _percent("enforced"),
        "max_dynamic_descriptors": limits.ENVOY_TRACKED_ADDRESSES,
        "rate_limits": [
            # (method, address): the start and verify limits; other methods match no descriptor.
            {"actions": [{"request_headers": {"header_name": ":path", "descriptor_key": _METHOD}}, _ADDRESS]},
            # (sign_in=auth, address): every sign-in call, one bucket per address.
            {"actions": [{"generic_key": {"descriptor_key": _KEY, "descriptor_value": _ALL}}, _ADDRESS]},
        ],
        "descriptors": descriptors,
        "response_headers_to_add": [
            {
                "header": {"key": "retry-after", "value": str(limits.ADDRESS_WINDOW_SECONDS)},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
    }


def sign_in_route(grpc_service: str, settings: SignInLimits, route: dict[str, Any]) -> list[dict[str, Any]]:
    """The route of the service's sign-in methods (none when it has none), to place
    before its general route."""
    methods = sign_in_methods(grpc_service)
    if not methods:
        return []
    pattern = "|".join(sorted(methods))
    return [
        {
            "match": {"safe_regex": {"regex": f"^/{re.escape(grpc_service)}/({pattern})$"}},
            "route": route,
            "typed_per_filter_config": {FILTER_NAME: _route_config(grpc_service, settings)},
        }
    ]


def sign_in_methods(grpc_service: str) -> list[str]:
    """The service's methods bound to a REST path under ``/v1/auth:``."""
    import importlib

    from google.api import annotations_pb2
    from google.protobuf import descriptor_pb2, descriptor_pool

    package = grpc_service.rsplit(".", 1)[0]
    importlib.import_module(f"{package}.{package.split('.')[1]}_pb2")
    service = descriptor_pool.Default().FindServiceByName(grpc_service)
    found = []
    for method in service.methods:
        options = descriptor_pb2.MethodOptions()
        options.ParseFromString(method.GetOptions().SerializeToString())
        if not options.HasExtension(annotations_pb2.http):
            continue
        rule = options.Extensions[annotations_pb2.http]
        path = getattr(rule, rule.WhichOneof("pattern") or "post", "")
        if isinstance(path, str) and path.startswith(SIGN_IN_PREFIX):
            found.append(method.name)
    return found


def client_address_header() -> dict[str, Any]:
    """Request header with the client's address as Envoy determined it (see the module doc)."""
    return {
        "header": {"key": CLIENT_ADDRESS_HEADER, "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"},
        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
    }
