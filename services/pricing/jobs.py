"""pricing-service jobs, runnable as commands (scheduled by the async work later).

    python -m services.pricing.jobs expire [--now 2026-01-31T00:00:00Z]

``expire`` ends entitlements whose expiry has passed, records one
``entitlements.expired`` event per affected user in the outbox and drops their
cached features. Gates compare expiry times themselves, so a late run never
grants access; the job makes the state and the events explicit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from datetime import UTC, datetime

from services.pricing.app import job_entitlements


async def expire(now: datetime | None) -> dict[str, object]:
    async with job_entitlements() as entitlements:
        count, users = await entitlements.expire(now)
    return {"expired_count": count, "users": [f"users/{u}" for u in users]}


def _time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.pricing.jobs", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="job", required=True)
    expire_cmd = sub.add_parser("expire", help="end entitlements past their expiry and emit events")
    expire_cmd.add_argument("--now", type=_time, default=None, help="RFC 3339 time; default now")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(expire(args.now))))


if __name__ == "__main__":
    main()
