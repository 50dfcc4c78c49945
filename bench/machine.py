"""How fast this machine is right now, beside the figures measured on it.

The benches' machines change speed by the hour (one ran the same province night in 3.7 s
and, forty minutes later, in 4.3 s: BENCHMARKS "Issue 17, seventeenth pass"). A fixed
pure-Python loop timed at the start and end of `make bench`, and right before each
province night, lets a reader tell a slower hour from slower code.
"""

from __future__ import annotations

import time

LOOP = 4_000_000  # about 0.1 s on the 2-core development machines (0.05 s for 2,000,000 seen)
ROUNDS = 3


def loop_seconds() -> float:
    """The best of ROUNDS timings of the same loop (the best: least disturbed by others)."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        total = 0
        for number in range(LOOP):
            total += number
        best = min(best, time.perf_counter() - started)
    return round(best, 4)
