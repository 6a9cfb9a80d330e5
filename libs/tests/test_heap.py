"""The collector settings of a serving process: startup's objects set aside, garbage cycles
made later still collected without anyone asking."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from libs import heap

_SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from libs import heap

    startup = [[n] for n in range(10_000)]
    heap.settle()
    assert gc.get_freeze_count() >= len(startup), gc.get_freeze_count()
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *heap.OLDER_THRESHOLDS)

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: reference counting alone never frees it
    gone = weakref.ref(a)
    del a, b
    churn = []
    for n in range(10 * heap.YOUNG_THRESHOLD):  # allocations, as requests make them
        churn.append((n,))
        if gone() is None:
            print("collected after", n)
            break
    else:
        raise SystemExit("the cycle was never collected")
    """
)


def test_a_cycle_made_after_startup_is_collected_by_the_collector_alone() -> None:
    done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    collected_after = int(done.stdout.split()[-1])
    # By the young generation's own collection, not a full one much later.
    assert collected_after <= 2 * heap.YOUNG_THRESHOLD
