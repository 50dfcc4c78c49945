"""Time and recurrence words in a measure's text, turned into schedule suggestions.

A report says "每季度" or "年底前" but never which form the plan needs, so these are only
offered as comments for the coordinator to confirm; nothing here sets a value.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from plan_tracker.authoring.numerals import CN_DIGITS, to_int

_EVERY: list[tuple[str, re.Pattern[str]]] = [
    ("week", re.compile(r"每周|每星期|按周")),
    ("month", re.compile(r"每个?月|按月|逐月|月度")),
    ("quarter", re.compile(r"每个?季度?|按季度?|逐季")),
    ("half_year", re.compile(r"每半年|上半年|下半年")),
    ("year", re.compile(r"每年|年度|全年")),
]
_YEAR_END = re.compile(r"年底前?|年末|年终|年内")
_FIRST_HALF = re.compile(r"上半年")
_NUM = rf"\d{{1,2}}|[{CN_DIGITS}]{{1,3}}"
# The look-behind keeps "12月" from also matching as "2月".
_MONTH_END = re.compile(rf"(?<![\d{CN_DIGITS}])({_NUM})月(?:底|末)前?")
# "6月30日前": a date is a deadline only with 前/之前/以前; a bare date is usually history.
_DAY_BEFORE = re.compile(rf"(?<![\d{CN_DIGITS}])({_NUM})月({_NUM})[日号](?:之|以)?前")


@dataclass(frozen=True)
class Suggestion:
    """One schedule value to propose, with the words of the text it comes from."""

    key: str  # "every" or "due"
    value: str
    sources: tuple[str, ...]

    def comment(self) -> str:
        quoted = " ".join(f'"{s}"' for s in self.sources)
        return f"# 建议 suggestion: {self.key}: {self.value}  (原文 {quoted})"


def suggest(text: str, year: int) -> list[Suggestion]:
    """Schedule suggestions for one measure: recurrences, then deadlines, in text order."""
    hits: list[tuple[int, int, str, str, str]] = []  # (rank, position, key, value, words)
    for value, pattern in _EVERY:
        hits += [(0, m.start(), "every", value, m.group(0)) for m in pattern.finditer(text)]
    hits += [(1, m.start(), "due", f"{year}-12-31", m.group(0)) for m in _YEAR_END.finditer(text)]
    hits += [(1, m.start(), "due", f"{year}-06-30", m.group(0)) for m in _FIRST_HALF.finditer(text)]
    for m in _MONTH_END.finditer(text):
        month = to_int(m.group(1))
        if 1 <= month <= 12:
            last = dt.date(year, month, calendar.monthrange(year, month)[1])
            hits.append((1, m.start(), "due", last.isoformat(), m.group(0)))
    for m in _DAY_BEFORE.finditer(text):
        day = _date(year, to_int(m.group(1)), to_int(m.group(2)))
        if day is not None:
            hits.append((1, m.start(), "due", day.isoformat(), m.group(0)))
    found: dict[tuple[str, str], list[str]] = {}
    for _, _, key, value, words in sorted(hits):
        sources = found.setdefault((key, value), [])
        if words not in sources:
            sources.append(words)
    return [Suggestion(k, v, tuple(s)) for (k, v), s in found.items()]


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:  # "2月30日" in a mistyped report: suggest nothing rather than guess
        return None
