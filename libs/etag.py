"""Etags (AIP-154): opaque strings derived from a resource's name and version."""

from __future__ import annotations

import hashlib

from libs.errors import EtagMismatch


def make(name: str, version: int | str) -> str:
    digest = hashlib.sha256(f"{name}@{version}".encode()).hexdigest()[:20]
    return f'W/"{digest}"'


def check(sent: str, name: str, version: int | str) -> None:
    """An empty etag means "no precondition"; a stale one is ABORTED (HTTP 409)."""
    if sent and sent != make(name, version):
        raise EtagMismatch("the resource changed since it was read; fetch it again")
