"""Work done beside a night's stages — the report built ahead, the later stages' warm-up,
the delivery processes getting ready — runs at a lower priority than the night's own.

On a machine of two cores the night's evaluation runs on one while this work shares the
other; at the same priority the kernel gives the three of them two thirds of a core each,
and evaluation (the night's critical path) pays for work that could wait."""

from __future__ import annotations

import os
import threading
from contextlib import suppress

NICENESS = 10  # added to the thread's own (up to 19 on Linux: higher yields more)


def yield_to_the_night() -> None:
    """Run the calling thread at a lower priority (Linux schedules threads alone; elsewhere
    this does nothing): it is to use what the night leaves idle, not to take from it."""
    with suppress(AttributeError, OSError):  # no per-thread priority here: the thread runs as it is
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(os.getpriority(os.PRIO_PROCESS, thread) + NICENESS, 19))
