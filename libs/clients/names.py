"""Where ``libs.display_names`` gets names: the group's cached roster first, the user directory
for anyone it does not hold.

A response about a group names mostly its members, and every ledger write already reads that
group's roster from Redis, so the names cost no RPC on a hit. Former members, other groups'
people (``groups/-`` feeds) and a roster missing from the cache go to auth-service's
BatchGetUsers in one batched call. Names are decoration: when the directory does not answer,
the response goes out with the names it has rather than fail a call that may already have
written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from libs.clients.rosters import RosterCache
from libs.clients.users import UserDirectory
from libs.errors import Unavailable

log = logging.getLogger("hisaab.names")

# Request fields that name the group a call is about, in the order they are tried.
_GROUP_FIELDS = ("parent", "name", "group")


def group_of(request: Any) -> str:
    """The group id a request is about ("" for none, or for "groups/-")."""
    for field in _GROUP_FIELDS:
        value = getattr(request, field, "")
        if isinstance(value, str) and value.startswith("groups/"):
            group_id = value.split("/")[1]
            return "" if group_id == "-" else group_id
    return ""


class NameBook:
    def __init__(self, rosters: RosterCache | None, users: UserDirectory):
        # No roster cache (a service without Valkey, whose responses are not about a group):
        # every name comes from the directory.
        self._rosters = rosters
        self._users = users

    async def names(self, request: Any, user_ids: Sequence[str]) -> Mapping[str, str]:
        found: dict[str, str] = {}
        group_id = group_of(request)
        roster = await self._rosters.cached(group_id) if group_id and self._rosters else None
        if roster is not None:
            # A member without a name has none in the directory either: no call for them.
            found.update((u, roster.names[u]) for u in user_ids if u in roster.names)
        rest = [u for u in user_ids if u not in found]
        if not rest:
            return found
        try:
            found.update(await self._users.display_names(rest))
        except Unavailable:
            log.warning("display names unavailable", extra={"missing": len(rest)})
        return found
