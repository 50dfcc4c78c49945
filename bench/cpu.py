"""The CPU a measurement spends, summed over this process's threads and the child processes
that work for it, and the rate this machine's cores would allow at that cost.

A rate that is CPU-bound cannot pass a target above `cores / CPU per message`, however the
work is shared out; a rate far below that bound waits on something else (a lock, the disk).
The delivery benches print both, so a machine's result says which it is.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Sequence
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class CpuClock:
    """Started once the child processes that will do the work are up, so their start-up is
    not counted: `children` are their ids. Read once every child has been waited for (a child
    still running is not counted, and its start-up would be taken off)."""

    def __init__(self, children: Sequence[int] = ()) -> None:
        self._own = time.process_time()  # every thread of this process
        self._reaped = _reaped_children_seconds()
        self._before = sum(ticks(pid) for pid in children) / CLOCK_TICKS

    def seconds(self) -> float:
        return (time.process_time() - self._own) + (_reaped_children_seconds() - self._reaped) - self._before


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def cpu_bound_rate(cpu_ms_per_message: float) -> float:
    """Messages a second this machine's cores allow at `cpu_ms_per_message`, every core busy."""
    return round(cores() * 1000 / cpu_ms_per_message, 1) if cpu_ms_per_message > 0 else float("inf")


def per_message_ms(cpu_seconds: float, messages: int) -> float:
    """Milliseconds of CPU a message (0 when none was sent)."""
    return round(cpu_seconds * 1000 / messages, 3) if messages else 0.0


def _reaped_children_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def ticks(pid: int) -> int:
    """User and system clock ticks of a running process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime
