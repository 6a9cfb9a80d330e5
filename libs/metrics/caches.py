"""Cache reads by cache and result: hit, miss, or error (Redis unreachable or skipped).

The cache is named by its key's first segment (``roster``, ``settlement``, ``features`` of
``hisaab:features:v1``),
so caches that share one client (settlement's rosters and balances) count apart.
"""

from __future__ import annotations

from typing import Any

from libs.metrics import instruments

_attributes: dict[tuple[str, str], dict[str, Any]] = {}


def read(key: str, result: str) -> None:
    name = key.removeprefix("hisaab:").partition(":")[0]
    attributes = _attributes.get((name, result))
    if attributes is None:
        attributes = _attributes[(name, result)] = {"cache.name": name, "cache.result": result}
    instruments.get().cache_requests.add(1, attributes)
