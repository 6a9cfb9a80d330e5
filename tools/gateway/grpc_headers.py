"""Drops request headers whose names gRPC metadata cannot carry, before they reach a service.

HTTP allows header names such as ``x-a$b`` or ``a|b``; gRPC metadata keys are
only ``0-9 a-z _ . -``. Forwarded as is, such a header makes the service's gRPC
server fail the call with INTERNAL ("Illegal header key"), so a client's stray
header would read as a server error. No header the API uses is affected.
"""

from __future__ import annotations

from typing import Any

_HEADER_MUTATION = "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation"
_LEGAL = "0-9a-z_.\\-"
# A name with an illegal character anywhere; pseudo-headers (":path", ...) are not touched.
ILLEGAL_NAME = f"[^:{_LEGAL}].*|[^:].*[^{_LEGAL}].*"


def grpc_safe_headers_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.header_mutation",
        "typed_config": {
            "@type": _HEADER_MUTATION,
            "mutations": {
                "request_mutations": [
                    {"remove_on_match": {"key_matcher": {"safe_regex": {"regex": ILLEGAL_NAME}}}}
                ]
            },
        },
    }
