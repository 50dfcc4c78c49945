"""Request fields that accept exactly what the OpenAPI schema says, and nothing a lenient
parser would make of something else:

- `IsoDate`: a date written `YYYY-MM-DD` — not `0` (read as 1970-01-01 by a lenient parser),
  not a date-time, not `2018-1-1`;
- `Text`: free text without NUL (PostgreSQL text cannot hold it), declared as a `pattern` so
  schema-driven clients know, and without unpaired UTF-16 surrogates (`"\\ud800"` is valid
  JSON but no Unicode text: it failed at insert). The schema cannot say the latter in a
  pattern (JSON Schema validators compile patterns as Unicode-scalar regexes, where a
  surrogate cannot be written): a JSON string is Unicode text, which excludes them;
- `NonBlankText`: also at least one character that is not white space — white space as
  Python's `str.isspace` has it, spelled out so the schema's pattern means the same (the
  full-width space U+3000 included: a reason of spaces is no reason);
- `Percent` / `Number`: JSON numbers only — `"50"` is a string, `true` is not 1; an integer
  may be written `31.0` (JSON Schema's integers include it), not `31.5`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# ECMA-262, Rust (schemathesis' validator) and Python regular expressions read these alike
TEXT_PATTERN = r"^[^\x00]*$"
_NOT_TEXT = re.compile(r"[\x00\ud800-\udfff]")
SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # = str.isspace
NON_BLANK_PATTERN = rf"^[^\x00]*[^\x00{SPACE}][^\x00]*$"


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


def _json_number(value: Any) -> Any:
    """Refuse what a lenient parser would turn into a number: strings and booleans."""
    if isinstance(value, (str, bytes, bool)):
        raise ValueError("must be a JSON number")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date),
                    WithJsonSchema({"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"})]
Text = Annotated[str, AfterValidator(_text), Field(json_schema_extra={"pattern": TEXT_PATTERN})]
NonBlankText = Annotated[str, AfterValidator(_text), AfterValidator(_non_blank),
                         Field(json_schema_extra={"pattern": NON_BLANK_PATTERN})]
# Constraints go before the BeforeValidator: after it, pydantic writes them into the schema as
# unknown keywords (`ge`, `le`) instead of `minimum`/`maximum`.
Percent = Annotated[int, Field(ge=0, le=100), BeforeValidator(_json_number)]
Number = Annotated[float, Field(allow_inf_nan=False), BeforeValidator(_json_number)]
