"""An obligation's terms over time: the record never changes what was in force on a past day.

A plan version, a cancellation (撤销) or an approved extension (延期) changes an
obligation's terms *from a date on*. An obligation's timeline is a list of segments, each
its terms on [start, end) (start None: from the beginning; end None: open). Changing the
terms from date E keeps every segment before E as it was and replaces the rest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Terms:
    """What an obligation is on a day: its names, period, dates and whether it is tracked."""

    task_id: str
    unit_id: str
    period: str
    period_start: dt.date
    period_end: dt.date
    due: dt.date
    original_due: dt.date
    warn_days: int
    active: bool = True


@dataclass(frozen=True)
class Segment:
    start: dt.date | None  # None: from the beginning of the record
    end: dt.date | None  # None: still in force
    terms: Terms

    def holds_on(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day < self.end)


def terms_on(timeline: list[Segment], day: dt.date) -> Terms | None:
    """The terms in force on `day`, or None when the obligation did not exist then."""
    return next((s.terms for s in timeline if s.holds_on(day)), None)


def change_from(timeline: list[Segment], effective: dt.date | None, terms: Terms,
                until: dt.date | None = None) -> list[Segment]:
    """The timeline with `terms` in force from `effective` (None: from the beginning) and,
    when `until` is given, no longer tracked from `until` on (a cancellation; `until` on or
    before `effective` means not tracked from `effective`). Segments before `effective` are
    kept exactly; adjacent equal segments are merged, so an unchanged plan changes nothing."""
    kept = [_clip(s, effective) for s in timeline if effective is not None and (s.start is None or s.start < effective)]
    new: list[Segment] = []
    if until is None:
        new.append(Segment(effective, None, terms))
    elif effective is not None and until <= effective:
        new.append(Segment(effective, None, replace(terms, active=False)))
    else:
        new += [Segment(effective, until, terms), Segment(until, None, replace(terms, active=False))]
    return merged(kept + new)


def _clip(segment: Segment, end: dt.date | None) -> Segment:
    if end is None or (segment.end is not None and segment.end <= end):
        return segment
    return Segment(segment.start, end, segment.terms)


def merged(timeline: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in timeline:
        if out and out[-1].terms == s.terms and out[-1].end == s.start:
            out[-1] = Segment(out[-1].start, s.end, s.terms)
        else:
            out.append(s)
    return out
