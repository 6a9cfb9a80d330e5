"""Free-port helpers shared by the stack and its tests."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_random = random.SystemRandom()


# Ports handed out are taken below the kernel's ephemeral range: a port the kernel picked
# for us is back in its pool once we release it, and the next outgoing connection (a
# database client, the AWS emulator's) may take it before the server that was meant to
# listen there binds it. Below the range only an explicit bind can take it.
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 20000


def _below_ephemeral() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port nobody listens on right now, outside the range the kernel lends to clients,
    and never one this process handed out before (its server may not be listening yet)."""
    top = max(_below_ephemeral(), _LOWEST + 1000)
    for _ in range(200):
        port = _random.randrange(_LOWEST, top)
        if port not in _handed_out and port_is_free(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port found between {_LOWEST} and {top}")


def port_is_free(port: int) -> bool:
    """True if a server could listen on ``port`` on every interface.

    SO_REUSEADDR lets a port whose last connections linger in TIME_WAIT count as
    free (servers bind that way too), while any listener still makes it busy.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))  # noqa: S104 - probing, not serving
        except OSError:
            return False
    return True
