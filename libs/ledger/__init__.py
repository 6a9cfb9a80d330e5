"""The ledger: the one place that knows its tables, and the money math behind them.

Owners: the expense service (an expense is an entry) and the settlement service (a
payment is an entry) write it; both read balances from it, and expense reads postings
for its charts and exports. No other service touches it; no code outside this package
names its tables (``libs/tests/test_ledger_fence.py`` fails otherwise).

- ``store``: post an entry, replace it (an edit), reverse or restore it, read balances.
- ``versions``: the per-group version every balance change bumps (cache keys).
- ``reports``: entries and postings for reports, charts and exports.
- ``migrations/``: the ``ledger`` schema's Alembic branch.
- pure math, imported below: apportionment, split modes, postings and debt simplification.
"""

from libs.ledger.apportion import largest_remainder
from libs.ledger.postings import Posting, diff, nets
from libs.ledger.simplify import Transfer, convert, greedy, simplify
from libs.ledger.splits import Payer, SplitMode, compute_postings

__all__ = [
    "Payer",
    "Posting",
    "SplitMode",
    "Transfer",
    "compute_postings",
    "convert",
    "diff",
    "greedy",
    "largest_remainder",
    "nets",
    "simplify",
]
