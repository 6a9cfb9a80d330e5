"""Ledger postings and the net arithmetic the balance updates are built from.

A posting is one participant's part in one ledger entry: what they paid and what they owe.
Net = paid - owed; a positive net means the group owes them. For every entry
Σpaid = Σowed = total, hence the nets sum to zero, and so do the balance deltas of an edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Posting:
    paid_minor: int
    owed_minor: int

    @property
    def net_minor(self) -> int:
        return self.paid_minor - self.owed_minor


Postings = Mapping[str, Posting]


class UnbalancedEntry(ValueError):
    """Σpaid or Σowed differs from the entry's total: a bug upstream, never user input."""


def check_balanced(postings: Postings, total_minor: int) -> None:
    paid = sum(p.paid_minor for p in postings.values())
    owed = sum(p.owed_minor for p in postings.values())
    if paid != total_minor or owed != total_minor:
        raise UnbalancedEntry(f"paid {paid}, owed {owed}, total {total_minor}")


def nets(postings: Postings) -> dict[str, int]:
    """Net per participant, zero nets left out, ordered by participant id."""
    return {who: p.net_minor for who, p in sorted(postings.items()) if p.net_minor != 0}


def diff(old: Postings, new: Postings) -> dict[str, int]:
    """Balance deltas that turn the effect of `old` into that of `new` (an edit).

    A delete is `diff(old, {})`, a restore `diff({}, old)`. Zero deltas are left out so an
    edit that moves no money locks no balance rows; the deltas sum to zero.
    """
    old_nets, new_nets = nets(old), nets(new)
    out: dict[str, int] = {}
    for who in sorted(old_nets.keys() | new_nets.keys()):
        delta = new_nets.get(who, 0) - old_nets.get(who, 0)
        if delta:
            out[who] = delta
    return out


def apply(balances: Mapping[str, int], deltas: Mapping[str, int]) -> dict[str, int]:
    """Balances after adding `deltas`, zero balances left out, ordered by participant id."""
    out = dict(balances)
    for who, delta in deltas.items():
        out[who] = out.get(who, 0) + delta
    return {who: v for who, v in sorted(out.items()) if v != 0}
