"""Service identities on the local stack, for tests and benchmarks that call internal methods."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from libs.auth.caller import INTERNAL_SCOPE, subject
from libs.settings import LOCAL_ISSUER, local_service_client_id
from services.auth.providers.local import LocalIssuer

# Well inside the access token's lifetime (services.auth.providers.local).
REUSE_SECONDS = 60.0


def service_token(data_dir: Path, service: str) -> str:
    """An access token of ``service``'s own identity, as the stack's services mint it."""
    issuer = LocalIssuer(data_dir, issuer=LOCAL_ISSUER, client_id=local_service_client_id(service))
    return issuer.mint_access_token(subject(service), scope=INTERNAL_SCOPE)


@dataclass
class StackIdentity:
    """``service``'s identity on the stack whose data is in ``data_dir`` (for ``libs.rpc.peers.channel``).

    Like a service's own (libs.auth.service_identity), the token is minted once and reused
    while fresh: minting reads and parses the signing key, about 40 ms, which a benchmark
    of the calls made with it must not count."""

    data_dir: Path
    service: str
    _token: str = field(default="", init=False, repr=False)
    _minted_at: float = field(default=-math.inf, init=False, repr=False)

    def token(self) -> str:
        if time.monotonic() - self._minted_at > REUSE_SECONDS:
            self._token = service_token(self.data_dir, self.service)
            self._minted_at = time.monotonic()
        return self._token
