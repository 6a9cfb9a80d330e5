"""What an export contains, as plain data: built from the database, rendered to CSV or PDF."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class ExportLine:
    """One expense or settlement as people read it."""

    when: date
    kind: str  # "expense" or "settlement"
    description: str
    category: str
    currency: str
    total_minor: int
    paid_by: str  # display names, "; "-joined
    # member display name → net for this line (paid - owed), in minor units
    nets: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportData:
    group_name: str
    members: list[str]  # display names in column order
    lines: list[ExportLine]
    # currency → member display name → net balance
    balances: dict[str, dict[str, int]]
    generated_on: date
