"""Envoy configuration for the REST gateway, built from the service catalog and descriptor.

One listener transcodes REST/JSON to gRPC for the services given; each gRPC
service gets one route to its own HTTP/2 cluster, which spreads requests round-robin
over the service's endpoints (one in EKS, the Service's DNS name; one per process when
the local stack runs a service as several processes). A route matches only the
methods the contract binds to REST: internal RPCs (no HTTP binding) are not
reachable through the gateway, not even by a client speaking raw gRPC to it. Errors
leave as JSON: upstream gRPC errors become a google.rpc.Status body
(``convert_grpc_status``), and Envoy's own replies (bad JSON, a wrong type, unknown
path or query parameter, body too large, upstream down or slow) are rewritten to the
same shape with an ErrorInfo reason (``local_reply_config``); a small Lua filter adds
the BadRequest field violation, in JSON names, when the transcoder's message names the
field. Its only cost on a successful response is reading the status header.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from libs.catalog import GATEWAY_ADMIN_PORT, GATEWAY_PORT, SERVICES
from libs.errors import ERROR_DOMAIN
from tools.gateway.grpc_headers import grpc_safe_headers_filter
from tools.gateway.openapi_route import DEFAULT_DOCUMENT, MAX_BODY_BYTES, openapi_route

MAX_REQUEST_BYTES = 1024 * 1024
# Per Envoy process; beyond this new connections are refused instead of exhausting memory.
MAX_DOWNSTREAM_CONNECTIONS = 50_000
UPSTREAM_TIMEOUT = "15s"

# Envoy's own replies (bad JSON or a wrong type, unknown query parameter, body too large,
# no route, upstream down or slow), as the gRPC code and ErrorInfo reason a service would
# give (hisaab.common.v1.ErrorReason). A path the API does not have is UNIMPLEMENTED, as
# gRPC answers an unknown method.
_LOCAL_REPLIES: tuple[tuple[int, int, str, str | None], ...] = (
    (400, 3, "INVALID_REQUEST", None),
    (401, 16, "TOKEN_INVALID", None),
    (403, 7, "NOT_ALLOWED", None),
    (404, 12, "NO_SUCH_METHOD", None),
    (405, 12, "NO_SUCH_METHOD", None),
    (413, 3, "REQUEST_TOO_LARGE", f"the request body is over {MAX_REQUEST_BYTES} bytes"),
    (429, 8, "RATE_LIMITED", None),
    # Envoy's own wording names connection internals; a client only needs to know it may retry.
    (503, 14, "UNAVAILABLE", "the service is unavailable; retry with the same requestId"),
    (504, 4, "UNAVAILABLE", "the service did not answer in time; retry with the same requestId"),
)
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"

_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_TRANSCODER = "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder"
_BUFFER = "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer"
_ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
_LUA = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"
# Names the field in the transcoder's own 400s (wrong type, unknown query parameter).
FIELD_ERRORS_LUA = Path(__file__).with_name("field_errors.lua")
_DOWNSTREAM_CONNECTIONS = (
    "type.googleapis.com/envoy.extensions.resource_monitors."
    "downstream_connections.v3.DownstreamConnectionsConfig"
)
_HTTP_OPTIONS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

Endpoint = tuple[str, int | str]
# A service's upstream: one (host, port), or a list of them (one per local process).
Upstream = Endpoint | Sequence[Endpoint]


def endpoints_of(upstream: Upstream) -> list[Endpoint]:
    if isinstance(upstream, tuple):
        return [upstream]
    if not upstream:
        raise ValueError("a service needs at least one endpoint")
    return list(upstream)


def _local_reply_mapper(status: int, grpc_code: int, reason: str, message: str | None) -> dict[str, Any]:
    """A google.rpc.Status body like the ones services send through the transcoder."""
    replaced = {"body": {"inline_string": message}} if message else {}
    return {
        **replaced,
        "filter": {
            "status_code_filter": {
                "comparison": {
                    "op": "EQ",
                    "value": {"default_value": status, "runtime_key": f"hisaab.lr_{status}"},
                }
            }
        },
        "body_format_override": {
            "json_format": {
                "code": grpc_code,
                "message": "%LOCAL_REPLY_BODY%",
                "details": [{"@type": _ERROR_INFO, "reason": reason, "domain": ERROR_DOMAIN}],
            },
            "content_type": "application/json",
        },
    }


def exposed_methods_regex(grpc_service: str) -> str:
    """Regex for the gRPC paths of the service's methods that have an HTTP binding."""
    import importlib
    import re

    from libs.rpc.descriptors import method_rules

    package = grpc_service.rsplit(".", 1)[0]
    importlib.import_module(f"{package}.{package.split('.')[1]}_pb2")
    rules = method_rules(grpc_service)
    names = sorted(path.rsplit("/", 1)[1] for path, rule in rules.items() if rule.has_http)
    return f"^/{re.escape(grpc_service)}/({'|'.join(names)})$"


def _cluster(name: str, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STRICT_DNS",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _HTTP_OPTIONS,
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
                        for host, port in endpoints
                    ]
                }
            ],
        },
    }


def build_config(
    upstreams: Mapping[str, Upstream],
    descriptor_path: str,
    listen_port: int | str = GATEWAY_PORT,
    admin_port: int | str = GATEWAY_ADMIN_PORT,
    *,
    admin_address: str = "127.0.0.1",
    upstream_timeout: str = UPSTREAM_TIMEOUT,
    openapi_document: str = DEFAULT_DOCUMENT,
) -> dict[str, Any]:
    """``upstreams`` maps a service short name (see libs.catalog) to (host, port), or to a
    list of them for a service run as several processes; ``openapi_document`` is the file
    served at GET /v1/openapi.json."""
    specs = [s for s in SERVICES if s.name in upstreams]
    unknown = set(upstreams) - {s.name for s in specs}
    if unknown:
        raise ValueError(f"unknown services: {sorted(unknown)}")
    routes: list[dict[str, Any]] = [
        {
            "match": {"safe_regex": {"regex": exposed_methods_regex(spec.grpc_service)}},
            "route": {"cluster": spec.name, "timeout": upstream_timeout},
        }
        for spec in specs
    ]
    routes.append(openapi_route(openapi_document))
    # Anything the transcoder did not map is not part of the API.
    routes.append(
        {
            "match": {"prefix": "/"},
            "direct_response": {"status": 404, "body": {"inline_string": "no such API path"}},
        }
    )
    hcm = {
        "@type": _HCM,
        "stat_prefix": "rest",
        "codec_type": "AUTO",
        "generate_request_id": True,
        "normalize_path": True,
        "merge_slashes": True,
        "common_http_protocol_options": {"idle_timeout": "300s"},
        "route_config": {
            "name": "hisaab",
            "max_direct_response_body_size_bytes": MAX_BODY_BYTES,
            "virtual_hosts": [{"name": "hisaab", "domains": ["*"], "routes": routes}],
        },
        "local_reply_config": {"mappers": [_local_reply_mapper(*reply) for reply in _LOCAL_REPLIES]},
        "http_filters": [
            {
                "name": "envoy.filters.http.lua",
                "typed_config": {
                    "@type": _LUA,
                    "default_source_code": {"inline_string": FIELD_ERRORS_LUA.read_text(encoding="utf-8")},
                },
            },
            {
                "name": "envoy.filters.http.buffer",
                "typed_config": {"@type": _BUFFER, "max_request_bytes": MAX_REQUEST_BYTES},
            },
            grpc_safe_headers_filter(),
            {
                "name": "envoy.filters.http.grpc_json_transcoder",
                "typed_config": {
                    "@type": _TRANSCODER,
                    "proto_descriptor": descriptor_path,
                    "services": [s.grpc_service for s in specs],
                    "convert_grpc_status": True,
                    "print_options": {
                        "add_whitespace": False,
                        "always_print_primitive_fields": True,
                        "always_print_enums_as_ints": False,
                        "preserve_proto_field_names": False,
                    },
                    "request_validation_options": {
                        "reject_unknown_method": True,
                        "reject_unknown_query_parameters": True,
                        "reject_binding_body_field_collisions": True,
                    },
                    "case_insensitive_enum_parsing": True,
                    # Browsers and curl --data-urlencode write spaces in query strings as "+".
                    "query_param_unescape_plus": True,
                },
            },
            {"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER}},
        ],
    }
    return {
        "admin": {"address": {"socket_address": {"address": admin_address, "port_value": admin_port}}},
        # One alternation of method names per service outgrows RE2's default program size.
        "layered_runtime": {
            "layers": [{"name": "static", "static_layer": {"re2.max_program_size.error_level": 2000}}]
        },
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": _DOWNSTREAM_CONNECTIONS,
                        "max_active_downstream_connections": MAX_DOWNSTREAM_CONNECTIONS,
                    },
                }
            ]
        },
        "static_resources": {
            "listeners": [
                {
                    "name": "rest",
                    "address": {"socket_address": {"address": "0.0.0.0", "port_value": listen_port}},  # noqa: S104
                    "filter_chains": [
                        {
                            "filters": [
                                {"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}
                            ]
                        }
                    ],
                }
            ],
            "clusters": [_cluster(spec.name, endpoints_of(upstreams[spec.name])) for spec in specs],
        },
    }


def local_upstreams(ports: Mapping[str, int] | None = None) -> dict[str, tuple[str, int]]:
    from libs.catalog import SERVICES

    return {s.name: ("127.0.0.1", (ports or {}).get(s.name, s.port)) for s in SERVICES}


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the gateway's Envoy config for the local services")
    parser.add_argument("--descriptor", default=str(Path("gen") / "hisaab.pb"))
    parser.add_argument("--out", default="-")
    args = parser.parse_args()
    text = json.dumps(build_config(local_upstreams(), str(Path(args.descriptor).resolve())), indent=2)
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
