"""Located problems of a report file: what the error file lists, row by row."""

from __future__ import annotations

from dataclasses import dataclass

from plan_tracker.domain.errors import DomainError


@dataclass(frozen=True)
class RowError:
    """One problem, located like a spreadsheet user would look for it.

    `sheet` is the worksheet name (or `csv` / `yaml`), `row` the row number the user sees
    (None for a problem with the whole file), `column` a letter plus header (e.g. `F 状态`)
    or a YAML key, `found` what the cell held, `expected` a plain sentence.
    """

    sheet: str
    row: int | None
    column: str
    expected: str
    found: str = ""

    def __str__(self) -> str:
        where = " ".join(filter(None, [self.sheet, f"row {self.row}" if self.row else "", self.column]))
        found = f" (found {self.found!r})" if self.found else ""
        return f"{where}: {self.expected}{found}" if where else f"{self.expected}{found}"


class FileRefused(DomainError):
    """The whole file cannot be used (hostile, unreadable, not a report of this plan)."""

    def __init__(self, problems: list[RowError]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))

    @classmethod
    def because(cls, expected: str, *, sheet: str = "", row: int | None = None, column: str = "",
                found: str = "") -> FileRefused:
        return cls([RowError(sheet, row, column, expected, found)])


class InboxMisconfigured(DomainError):
    """The inbox folder cannot be used safely (e.g. `processed/` is a link out of the inbox)."""
