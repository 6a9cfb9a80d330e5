"""Who may call an internal method (one with no REST binding): named services only.

How identity travels between services:

- ``authorization: Bearer <token>`` is the calling *service's* own identity
  (``libs.auth.service_identity``): an internal-scope token issued to that
  service's client, so the verifier knows which service it is. The method's
  ``(hisaab.options.v1.internal).callers`` must name that service.
- ``x-hisaab-user: <access token>`` optionally carries the *user* the service is
  acting for (expense asking group for the roster of the caller's group). It is
  the user's own access token, verified here like any other, so a service can
  relay a user but never invent one. The use case then sees that user as the
  caller (``Caller.via`` names the relaying service) and applies the same
  per-user checks as for the user's own calls.

Everything else is PERMISSION_DENIED: an app user's token, a service not named,
and any internal method whose contract names no caller at all (deny by default).
Verification results are cached by the verifier, so the second token costs a
dictionary lookup on the hot path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from libs.auth.caller import Caller
from libs.auth.verifier import TokenVerifier
from libs.errors import NotAllowed, Unauthenticated
from libs.rpc.descriptors import MethodRules

USER_HEADER = "x-hisaab-user"
REASON = "SERVICE_IDENTITY_REQUIRED"


def _header(metadata: Sequence[tuple[str, str | bytes]] | None, name: str) -> str | None:
    for key, value in metadata or ():
        if key.lower() == name:
            return (value.decode() if isinstance(value, bytes) else value).strip()
    return None


async def internal_caller(
    verifier: TokenVerifier,
    rules: MethodRules,
    token: str | None,
    metadata: Sequence[tuple[str, str | bytes]] | None,
) -> Caller:
    """The caller of an internal method, or the error that refuses it."""
    if token is None:
        raise Unauthenticated("missing bearer token")
    caller = await verifier.verify(token)
    if not caller.service:
        raise NotAllowed("this method is for Hisaab's own services", reason=REASON)
    if rules.callers is None or caller.service not in rules.callers:
        raise NotAllowed(f"service {caller.service!r} may not call this method", reason=REASON)
    user_token = _header(metadata, USER_HEADER)
    if not user_token:
        return caller
    user = await verifier.verify(user_token)
    if user.service:
        raise NotAllowed(f"{USER_HEADER} must carry a user's token", reason=REASON)
    return dataclasses.replace(user, via=caller.service)
