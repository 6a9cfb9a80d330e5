"""The gateway route that serves the OpenAPI document (docs/openapi.json) as it is committed.

Envoy answers it itself from the file, so the document served is byte for byte the
one in the repository (the chart mounts a copy next to the descriptor set). The
transcoder is switched off on this route: the path is no RPC.
"""

from __future__ import annotations

from typing import Any

from tools.openapi import DOC, SERVED_PATH

DEFAULT_DOCUMENT = str(DOC)
# Envoy caps direct responses at 4 KiB unless the route config raises the limit.
MAX_BODY_BYTES = 4 * 1024 * 1024
_FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig"


def openapi_route(document: str) -> dict[str, Any]:
    return {
        "match": {
            "path": SERVED_PATH,
            "headers": [{"name": ":method", "string_match": {"exact": "GET"}}],
        },
        "direct_response": {"status": 200, "body": {"filename": document}},
        "response_headers_to_add": [
            {
                "header": {"key": "content-type", "value": "application/json"},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
        "typed_per_filter_config": {
            "envoy.filters.http.grpc_json_transcoder": {"@type": _FILTER_CONFIG, "disabled": True}
        },
    }
