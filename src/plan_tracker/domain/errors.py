"""Domain errors. Each edge (CLI, web, flows) translates them for its users.

An error says what went wrong as a message of the catalogue (`domain/messages.py`): a key
and named fields, worded by the edge in the reader's locale (`render`); `str()` is the
English sentence, for logs and the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plan_tracker.domain.messages import MESSAGES, msg
from plan_tracker.wording import DEFAULT_LOCALE, Msg, render

Path = tuple[str | int, ...]


class WordedError(Exception):
    """The project's own errors for bad input (exit 2 at the CLI): `WordedError("the.key",
    field=value, hint=msg(...))`. A `Msg` of another catalogue (the inbox's) is taken as it is.

    A string that is no key is kept as the sentence it is (still bad input, exit 2, never a
    KeyError in front of the user); `tests/test_error_messages.py` fails on such a raise site."""

    def __init__(self, message: str | Msg, /, *, hint: Msg | None = None, **fields: Any):
        self.message: Msg | str = message
        if isinstance(message, str) and message in MESSAGES:
            self.message = msg(message, **fields)
        self.hint = hint
        super().__init__(self.render("en"))

    @property
    def key(self) -> str:
        return self.message.id if isinstance(self.message, Msg) else ""

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        return render(self.message, locale)

    def render_hint(self, locale: str = DEFAULT_LOCALE) -> str:
        return render(self.hint, locale) if self.hint is not None else ""


class DomainError(WordedError):
    """A rule of the domain was broken by its input (not a bug)."""


@dataclass(frozen=True)
class PlanIssue:
    """One problem in a plan, located by its path inside the document (keys and indexes)."""

    path: Path
    message: Msg | str  # a str only for a library's own sentence (pydantic's)
    at_key: bool = False  # point at the key itself (e.g. an unknown key), not its value


class CalendarNotCovered(DomainError):
    """A date falls in a year the working-day calendar has no official schedule for."""

    def __init__(self, year: int, calendar: str):
        self.year = year
        self.calendar = calendar
        super().__init__("calendar.not_covered", year=year, calendar=calendar)


class BadPeriod(DomainError):
    """A period key that is malformed or does not belong to the task."""
