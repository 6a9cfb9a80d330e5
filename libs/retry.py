"""The one back-off rule for retries: first, 2 * first, 4 * first ... capped."""

from __future__ import annotations


def backoff(attempts: int, first: float, longest: float) -> float:
    """Wait before attempt ``attempts + 1``: first, 2 * first, 4 * first ... capped at longest."""
    return float(min(longest, first * 2 ** max(0, attempts - 1)))
