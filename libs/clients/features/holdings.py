"""What a user holds now: feature keys with their expiry, and how long that answer is valid."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class Holdings:
    # feature key -> when it lapses (None: never)
    features: Mapping[str, datetime | None] = field(default_factory=dict)
    # The earliest moment this answer can change on its own (a feature lapses
    # or a renewal starts); None when nothing is scheduled.
    expire_time: datetime | None = None

    def holds(self, feature: str, now: datetime) -> bool:
        # Times are compared on every check, so a cache entry or an expiry job
        # that is late can never extend access.
        if feature not in self.features:
            return False
        expiry = self.features[feature]
        return expiry is None or now < expiry

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "f": {k: _epoch(v) for k, v in self.features.items()},
                "u": _epoch(self.expire_time),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Holdings:
        data = json.loads(raw)
        return cls(
            features={str(k): _time(v) for k, v in data["f"].items()},
            expire_time=_time(data["u"]),
        )


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)
