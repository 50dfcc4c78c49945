"""The end of a plan-tracker process of its own (the CLI, a delivery process): its memory goes
back to the operating system without the cyclic garbage collector walking it first.

Python's finalization collects cycles over every object still alive. A command that has
imported SQLAlchemy's mapped models, Jinja and the delivery code holds about 100,000: that
collection took 0.14–0.20 s on the bench machine after the command's work was done (15 ms
with this), paid by every command and by each delivery process, whose parent waits for it
to exit. Moving the survivors to the permanent generation (`gc.freeze`) keeps the rest of
finalization (atexit handlers, flushed standard streams, reference-counted objects freed);
only cycles that the process's end frees anyway stay uncollected.

Only at a process's own end: never in code that a test or the server runs in-process.
"""

from __future__ import annotations

import gc


def leave_memory_to_the_os() -> None:
    gc.freeze()
