"""Cache reads by cache and result: hit, miss, or error (Redis unreachable or skipped).

The cache is named by its key's first segment (``roster``, ``settlement``, ``features`` of
``hisaab:features:v1``), so caches that share one client (settlement's rosters and
balances) count apart. Several reads per request: counted in plain Python
(libs.metrics.aggregate), read at export.
"""

from __future__ import annotations

from libs.metrics import aggregate, names

_reads = aggregate.FastCounter(
    names.CACHE_REQUESTS,
    "{request}",
    "Cache reads by cache and result (hit, miss, error)",
    ("cache.name", "cache.result"),
)


def read(key: str, result: str) -> None:
    name = key.removeprefix("hisaab:").partition(":")[0]
    _reads.add((name, result))
