"""The address of the client behind the gateway, as the gateway vouches for it.

Envoy works out the client's address from the connection and the X-Forwarded-For
hops it trusts (in AWS the one entry API Gateway appends: API Gateway → NLB →
Envoy), and writes it to ``x-hisaab-client-address``, overwriting whatever the
client sent. The services read only that header: X-Forwarded-For itself is
partly written by the client, and ``x-envoy-external-address`` is absent for
private addresses. A caller that bypasses the gateway (another pod, a
port-forward) sends no such header, or one Envoy never saw; its own connection
address is used then, which is the best evidence there is.
"""

from __future__ import annotations

import ipaddress
from typing import Any

CLIENT_ADDRESS_HEADER = "x-hisaab-client-address"


def _from_peer(peer: str) -> str:
    # grpc peers look like "ipv4:127.0.0.1:53422", "ipv6:[::1]:53422" or "unix:/path".
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return peer or "unknown"


def client_address(context: Any) -> str:
    """The client's IP address for the RPC being served (a canonical string)."""
    for key, value in context.invocation_metadata() or ():
        if key == CLIENT_ADDRESS_HEADER:
            text = value.decode() if isinstance(value, bytes) else value
            try:
                return str(ipaddress.ip_address(text.strip()))
            except ValueError:
                break
    return _from_peer(context.peer() or "")
