"""The phases of a night that a report built beside it waits for (`reports.ahead`) before
reading what the night is still writing: tonight's status reports collected, the
evaluation committed (the reminders it raised), then delivery and the snapshot done. A
module of its own so the night can name them without importing the report's queries."""

from __future__ import annotations

from collections.abc import Callable

COLLECTED, EVALUATED, DELIVERED = "collected", "evaluated", "delivered"
Wait = Callable[[str], None]
