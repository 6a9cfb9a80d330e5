"""Ports for local servers come from below the kernel's ephemeral range, never twice."""

from __future__ import annotations

import socket
from pathlib import Path

from tools.devstack.ports import free_port


def test_free_ports_are_distinct_bindable_and_not_ephemeral() -> None:
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert all(20000 <= p < max(ephemeral_low, 21000) for p in ports)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", ports[0]))
