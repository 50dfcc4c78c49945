"""Located problems of a report file: what the error file lists, row by row."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from plan_tracker.domain.errors import DomainError
from plan_tracker.inbox.messages import DEFAULT_LOCALE, Msg, bilingual, msg, word

# "F 状态" (column letter and header), "F" (a column without a header), "col 7" (YAML syntax errors)
_LETTER_HEADER = re.compile(r"^([A-Z]{1,3})(?: (.+))?$")
_YAML_COLUMN = re.compile(r"^col (\d+)$")


@dataclass(frozen=True)
class RowError:
    """One problem, located like a spreadsheet user would look for it.

    `sheet` is the worksheet name (or `csv` / `yaml`), `row` the row number the user sees
    (None for a problem with the whole file), `column` a letter plus header (e.g. `F 状态`)
    or a YAML key, `found` what the cell held, `expected` what was wrong, as a message of the
    inbox catalogue: worded in the plan's locale by `text` and `expected_in`.
    """

    sheet: str
    row: int | None
    column: str
    expected: Msg
    found: str = ""

    def expected_in(self, locale: str = DEFAULT_LOCALE) -> str:
        return self.expected.render(locale)

    def text(self, locale: str = DEFAULT_LOCALE) -> str:
        """The whole problem as one line: `第5行 F列「状态」：应为 …（填写的是“x”）`."""
        where = " ".join(filter(None, [
            self.sheet, word("where.row", locale, row=self.row) if self.row else "", column_text(self.column, locale)]))
        said = self.expected.render(locale)
        said = word("problem", locale, where=where, expected=said) if where else said
        return word("found", locale, text=said, found=self.found) if self.found else said

    def as_json(self, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
        """The receipt's error entry: the same keys in every locale, `expected` worded."""
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "expected": self.expected_in(locale),
                "found": self.found}

    def __str__(self) -> str:
        return self.text()


def column_text(column: str, locale: str = DEFAULT_LOCALE) -> str:
    """A located column in words: `F列「状态」` in Chinese, `F 状态` in English."""
    if not column:
        return ""
    letter_header = _LETTER_HEADER.match(column)
    if letter_header:
        letter, header = letter_header.groups()
        return (word("where.column", locale, letter=letter, header=header) if header
                else word("where.letter", locale, letter=letter))
    yaml_column = _YAML_COLUMN.match(column)
    if yaml_column:
        return word("where.yaml_column", locale, column=yaml_column.group(1))
    return word("where.key", locale, key=column)


class FileRefused(DomainError):
    """The whole file cannot be used (hostile, unreadable, not a report of this plan)."""

    def __init__(self, problems: list[RowError]):
        self.problems = problems
        self.hint = None
        self.message = problems[0].expected  # the first reason stands for the file (`key`)
        Exception.__init__(self, "; ".join(map(str, problems)))

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        return "; ".join(p.text(locale) for p in self.problems)

    @classmethod
    def because(cls, message: str, *, sheet: str = "", row: int | None = None, column: str = "",
                found: str = "", **fields: Any) -> FileRefused:
        """Refuse the file with catalogue message `message` and its `fields`."""
        return cls([RowError(sheet, row, column, msg(message, **fields), found)])


class InboxMisconfigured(DomainError):
    """The inbox folder cannot be used safely (e.g. `processed/` is a link out of the inbox).

    Raised before any plan is read, so worded in both languages (`messages.bilingual`)."""

    def __init__(self, message: str, **fields: Any):
        self.said = msg(message, **fields)
        super().__init__(self.said)

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        return bilingual(self.said)
