"""The ledger's pure math: apportionment, split modes, postings and debt simplification.

Written once here and used by both services that write the ledger (expense, settlement).
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
