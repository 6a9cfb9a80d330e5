"""Split presets: a group's named ways of splitting a bill. Pure; no I/O.

A preset names users and a value each; what the value means depends on the mode
(ignored for EQUAL, basis points for PERCENT, weights for SHARES, minor units for
EXACT). It is checked in full whenever it is written, and checked against the
current members whenever it is read: someone who left makes it invalid, so the
expense side refuses it instead of splitting among whoever is left.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final

from libs import money
from libs.errors import InvalidArgument

MAX_ENTRIES: Final = 200  # a group's member limit
MAX_NAME: Final = 100
BASIS_POINTS_TOTAL: Final = 10_000
MAX_WEIGHT: Final = 1_000_000
DEFAULT_ALIAS: Final = "default"


class Mode(Enum):
    EQUAL = "equal"
    PERCENT = "percent"
    SHARES = "shares"
    EXACT = "exact"


@dataclass(frozen=True)
class PresetSpec:
    """What a user says about a preset."""

    display_name: str
    mode: Mode
    entries: tuple[tuple[str, int], ...]
    currency_code: str = ""
    is_default: bool = False


@dataclass(frozen=True)
class Preset:
    id: str
    group_id: str
    spec: PresetSpec
    creator: str
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return f"groups/{self.group_id}/splitPresets/{self.id}"

    def departed(self, members: Collection[str]) -> list[str]:
        """Users the preset names who are not members any more, in entry order."""
        return [user for user, _ in self.spec.entries if user not in members]


def check(spec: PresetSpec, members: Collection[str], prefix: str = "split_preset") -> PresetSpec:
    """The spec, if it is a usable preset for a group with these members."""
    if not spec.display_name.strip():
        raise InvalidArgument(f"{prefix}.display_name", "is required")
    if len(spec.display_name) > MAX_NAME:
        raise InvalidArgument(f"{prefix}.display_name", f"at most {MAX_NAME} characters")
    entries = spec.entries
    if not entries:
        raise InvalidArgument(f"{prefix}.entries", "at least one user is required")
    if len(entries) > MAX_ENTRIES:
        raise InvalidArgument(f"{prefix}.entries", f"at most {MAX_ENTRIES} users")
    seen: set[str] = set()
    for i, (user, _) in enumerate(entries):
        if user in seen:
            raise InvalidArgument(f"{prefix}.entries[{i}].user", "names a user twice")
        if user not in members:
            raise InvalidArgument(f"{prefix}.entries[{i}].user", "is not a member of the group")
        seen.add(user)
    values = [v for _, v in entries]
    value_path = f"{prefix}.entries.value"
    if spec.mode is Mode.EXACT:
        if not spec.currency_code:
            raise InvalidArgument(f"{prefix}.currency_code", "is required for EXACT presets")
        try:
            money.exponent(spec.currency_code)
        except money.UnknownCurrency:
            raise InvalidArgument(f"{prefix}.currency_code", "is not an ISO 4217 code") from None
    elif spec.currency_code:
        raise InvalidArgument(f"{prefix}.currency_code", "only EXACT presets have a currency")
    if spec.mode is Mode.EQUAL:
        zeroed = tuple((u, 0) for u, _ in entries)
        return PresetSpec(spec.display_name, spec.mode, zeroed, "", spec.is_default)
    low, high = {
        Mode.PERCENT: (0, BASIS_POINTS_TOTAL),
        Mode.SHARES: (0, MAX_WEIGHT),
        Mode.EXACT: (0, money.MAX_AMOUNT_MINOR),
    }[spec.mode]
    for i, value in enumerate(values):
        if not low <= value <= high:
            raise InvalidArgument(f"{prefix}.entries[{i}].value", f"must be from {low} to {high}")
    if spec.mode is Mode.PERCENT and sum(values) != BASIS_POINTS_TOTAL:
        raise InvalidArgument(value_path, f"basis points sum to {sum(values)}, expected {BASIS_POINTS_TOTAL}")
    if not any(values):
        raise InvalidArgument(value_path, "at least one value must be positive")
    return spec
