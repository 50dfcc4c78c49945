"""Request fields that accept exactly what the OpenAPI schema says, and nothing a lenient
parser would make of something else:

- `IsoDate`: a date written `YYYY-MM-DD` — not `0` (read as 1970-01-01 by a lenient parser),
  not a date-time, not `2018-1-1`;
- `Text`: free text without NUL (PostgreSQL text cannot hold it) or unpaired UTF-16
  surrogates (`"\\ud800"` is valid JSON but no valid text: it failed at insert), declared as a
  `pattern` so schema-driven clients know;
- `Count` / `Number`: JSON numbers only — `"50"` is a string, `true` is not 1.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# ECMA-262 and Python regular expressions read this alike (schemathesis turns it into strings)
TEXT_PATTERN = r"^[^\x00\ud800-\udfff]*$"
_NOT_TEXT = re.compile(r"[\x00\ud800-\udfff]")
# at least one character that is not white space (a reason of spaces is no reason)
NON_BLANK_PATTERN = r"^[^\x00\ud800-\udfff]*[^\s\x00\ud800-\udfff][^\x00\ud800-\udfff]*$"


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value  # pydantic's date parser then checks the calendar (no 2018-02-30)


def _text(value: str) -> str:
    found = _NOT_TEXT.search(value)
    if found:
        what = "NUL characters" if found.group() == "\x00" else "unpaired UTF-16 surrogates"
        raise ValueError(f"must not contain {what}")
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date),
                    WithJsonSchema({"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"})]
Text = Annotated[str, AfterValidator(_text), Field(json_schema_extra={"pattern": TEXT_PATTERN})]
NonBlankText = Annotated[str, AfterValidator(_text), AfterValidator(_non_blank),
                         Field(json_schema_extra={"pattern": NON_BLANK_PATTERN})]
Count = Annotated[int, Strict()]
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
