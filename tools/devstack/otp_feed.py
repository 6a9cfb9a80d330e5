"""Follows the dev OTP log the auth service's local provider appends to.

Each line is JSON: ``{"destination": ..., "code": ..., "channel": ..., "time": ...}``.
Only codes issued after the feed was opened are reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OtpRecord:
    destination: str
    code: str
    channel: str
    time: str

    def describe(self) -> str:
        return f"OTP for {self.destination} ({self.channel}): {self.code}"


class OtpFeed:
    def __init__(self, path: Path) -> None:
        self.path = path
        stat = path.stat() if path.exists() else None
        self._offset = stat.st_size if stat else 0
        self._inode = stat.st_ino if stat else None
        self._partial = b""

    def poll(self) -> list[OtpRecord]:
        """Records appended since the last call (a half-written last line waits for the next)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        if stat.st_ino != self._inode or stat.st_size < self._offset:  # recreated or truncated
            self._offset, self._inode, self._partial = 0, stat.st_ino, b""
        with open(self.path, "rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        return [record for line in lines if (record := _parse(line)) is not None]


def _parse(line: bytes) -> OtpRecord | None:
    try:
        data = json.loads(line)
        return OtpRecord(
            destination=str(data["destination"]),
            code=str(data["code"]),
            channel=str(data.get("channel", "")),
            time=str(data.get("time", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None


__all__ = ["OtpFeed", "OtpRecord"]
