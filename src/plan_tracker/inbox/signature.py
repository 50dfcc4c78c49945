"""The signed identity of a template: which plan, unit, version and day it was made for.

`templates` and the reminder's form write an HMAC-SHA256 (keyed with the install's secret,
`plan_tracker.token_secret`) of the `_meta` identity into the `_meta` sheet. A reply by mail
is accepted only with a valid signature, so a unit cannot edit its form (unprotecting a
sheet takes two clicks) to report for another unit. Files handed to `plan-tracker ingest`
by the coordinator need none: the coordinator is trusted (docs/INBOX.md).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

KEY = "signature"
# What the signature covers: everything that says whose form it is, and when it was made.
SIGNED = ("format", "plan", "unit", "plan_version", "as_of", "generated_on")
PURPOSE = "plan-tracker template identity v1"


def sign(secret: str, identity: Mapping[str, Any]) -> str:
    text = "\x1f".join([PURPOSE, *(f"{key}={_text(identity.get(key))}" for key in SIGNED)])
    return hmac.new(secret.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(secret: str, identity: Mapping[str, Any]) -> bool:
    """True when the identity carries the signature this install would have written."""
    claimed = identity.get(KEY)
    if not isinstance(claimed, str) or len(claimed) != 64:
        return False
    return hmac.compare_digest(claimed.strip().lower(), sign(secret, identity))


def _text(value: Any) -> str:
    # openpyxl gives numbers back as int; the sheet may hold "3" or 3: both sign alike.
    return "" if value is None else str(value).strip()
