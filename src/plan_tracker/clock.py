"""The only place that reads the wall clock: edges call it once and pass dates inward."""

from __future__ import annotations

import datetime as dt

import pendulum


def today_in(timezone: str) -> dt.date:
    """Today's date in a plan's time zone (e.g. 00:30 in Shanghai is still 'yesterday' in UTC)."""
    now = pendulum.now(timezone)
    return dt.date(now.year, now.month, now.day)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
