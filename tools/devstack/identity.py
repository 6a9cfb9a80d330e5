"""Service identities on the local stack, for tests and benchmarks that call internal methods."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from libs.auth.caller import INTERNAL_SCOPE, subject
from libs.settings import LOCAL_ISSUER, local_service_client_id
from services.auth.providers.local import LocalIssuer


def service_token(data_dir: Path, service: str) -> str:
    """An access token of ``service``'s own identity, as the stack's services mint it."""
    issuer = LocalIssuer(data_dir, issuer=LOCAL_ISSUER, client_id=local_service_client_id(service))
    return issuer.mint_access_token(subject(service), scope=INTERNAL_SCOPE)


@dataclass
class StackIdentity:
    """``service``'s identity on the stack whose data is in ``data_dir`` (for ``libs.rpc.peers.channel``)."""

    data_dir: Path
    service: str

    def token(self) -> str:
        return service_token(self.data_dir, self.service)
