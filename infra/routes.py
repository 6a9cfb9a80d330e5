"""The REST routes of the contract that the edge treats specially, read from the proto descriptor."""

from __future__ import annotations

from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from infra.limits import AUTH_PATH_PREFIX

DESCRIPTOR = Path(__file__).resolve().parent.parent / "gen" / "hisaab.pb"
_VERBS = ("get", "put", "post", "delete", "patch")


def _rules() -> list[http_pb2.HttpRule]:
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR.read_bytes())
    rules = []
    for file in files.file:
        for service in file.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                rules.extend([rule, *rule.additional_bindings])
    return rules


def sign_in_routes() -> list[tuple[str, str]]:
    """(HTTP method, path) of every binding under ``/v1/auth:`` (the sign-in custom methods)."""
    found = []
    for rule in _rules():
        verb = rule.WhichOneof("pattern")
        if verb in _VERBS:
            path = getattr(rule, verb)
            if path.startswith(AUTH_PATH_PREFIX):
                found.append((verb.upper(), path))
    return sorted(found)
