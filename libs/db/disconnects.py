"""When an engine of one Database last lost a connection it was using.

A restarted or failed-over server has closed every connection of both pools (writer and
reader), but each pool only learns it by losing one. So after a loss anywhere, a connection
that sat idle across it is pinged before use, however short its idle time (libs.db.database);
otherwise each pool would fail one more request, or one per connection used just before.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_ATTRIBUTE = "hisaab_disconnects"


class Disconnects:
    def __init__(self) -> None:
        self.last = 0.0  # time.monotonic() of the last loss

    def watch(self, engine: AsyncEngine) -> None:
        """Losses SQLAlchemy sees on ``engine`` count; so do those ``lost`` is told of."""
        setattr(engine.sync_engine, _ATTRIBUTE, self)

        @event.listens_for(engine.sync_engine, "handle_error")
        def _failed(context: Any) -> None:
            if context.is_disconnect:
                self.last = time.monotonic()


def lost(conn: AsyncConnection) -> None:
    """``conn``'s connection was lost outside SQLAlchemy's statements (on the driver directly)."""
    watching = getattr(conn.sync_engine, _ATTRIBUTE, None)
    if isinstance(watching, Disconnects):
        watching.last = time.monotonic()
