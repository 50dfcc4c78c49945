"""Choosing the words for the plan's locale: Chinese by default, English available.

The inbox and `plan preview` keep catalogues keyed by locale (message templates, weekday
names, list separators); this is the one place that picks an entry and falls back to the
default for a locale a catalogue does not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

DEFAULT_LOCALE = "zh"

T = TypeVar("T")


def for_locale(by_locale: Mapping[str, T], locale: str) -> T:
    """The entry for `locale`; an unknown (or empty) one gets the default locale's."""
    return by_locale.get(locale) or by_locale[DEFAULT_LOCALE]
