"""Domain errors. Each edge (CLI, web, flows) translates them for its users."""

from __future__ import annotations

from dataclasses import dataclass

Path = tuple[str | int, ...]


class DomainError(Exception):
    """A rule of the domain was broken by its input (not a bug)."""


@dataclass(frozen=True)
class PlanIssue:
    """One problem in a plan, located by its path inside the document (keys and indexes)."""

    path: Path
    message: str
    at_key: bool = False  # point at the key itself (e.g. an unknown key), not its value


class PlanInvalid(DomainError):
    """A plan document breaks one or more rules; carries every issue found, not just the first."""

    def __init__(self, issues: list[PlanIssue]):
        self.issues = issues
        super().__init__("; ".join(f"{'.'.join(map(str, i.path))}: {i.message}" for i in issues))


class CalendarNotCovered(DomainError):
    """A date falls in a year the working-day calendar has no official schedule for."""

    def __init__(self, year: int, calendar: str):
        self.year = year
        self.calendar = calendar
        super().__init__(
            f"the {calendar} working-day calendar has no official schedule for {year}; "
            f"add the year's holidays and adjusted working days to the plan's calendar "
            f"(calendar.years: [{year}], calendar.holidays, calendar.workdays)"
        )


class BadPeriod(DomainError):
    """A period key that is malformed or does not belong to the task."""
