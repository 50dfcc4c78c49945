"""Dates as the store gives them back. A DATE column read through raw SQL (or an aggregate
such as MIN over one) comes back as an ISO string on SQLite and as a date on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any


def stored_date(value: Any) -> dt.date:
    """A date read from the store, whichever backend returned it."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def stored_date_or_none(value: Any) -> dt.date | None:
    """`stored_date`, or None for a NULL (an aggregate over no rows)."""
    return None if value is None else stored_date(value)
