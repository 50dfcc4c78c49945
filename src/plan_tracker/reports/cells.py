"""Writing report cells as data, never as formulas (CSV/formula injection).

The rule is the inbox's (`plan_tracker.inbox.safety.neutralise`, the OWASP remedy): text
beginning with = + - @, tab, CR or NUL gets a leading apostrophe; numbers and dates pass.
It lives here too so reports do not depend on the inbox package; a test holds the two
rules equal.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
MAX_CELL_CHARS = 32_767  # Excel's limit for the text of one cell
# Control characters an XLSX cell cannot hold (openpyxl refuses them).
_ILLEGAL_XLSX = re.compile(r"[\000-\010\013\014\016-\037]")


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe; the rest passes."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def put(cell: Any, value: object) -> Any:
    """Write `value` into an openpyxl cell as data, never as a formula."""
    safe = neutralise(value)
    if isinstance(safe, str):
        safe = _ILLEGAL_XLSX.sub("", safe)[:MAX_CELL_CHARS]
    cell.value = safe
    if isinstance(safe, str):
        cell.data_type = "s"  # openpyxl would take any leading '=' as a formula
    return cell
