"""Schemathesis hooks for the API runs (`SCHEMATHESIS_HOOKS=tests.reliability.portal.schemathesis_hooks`).

`positive_data_acceptance` is configured to accept 422, because a request the schema allows
can still break a rule no schema can state (a report dated in the future, an extension
asked after the due date, a date the calendar does not cover): those are 422 `invalid`.
This check keeps the contract strict where it matters: a request the schema allows is never
refused by the schema validation itself (422 `validation_error`) — the mismatches the
hand-run attack counted (NUL characters, blank reasons) would fail here.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis.core.failures import Failure


@schemathesis.check
def positive_data_passes_validation(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    # A stateful step fills fields from earlier answers through the links it infers (e.g. some
    # number of a response into `progress`), which the schema never promised to accept.
    if str(getattr(meta.phase.name, "value", meta.phase.name)) == "stateful":
        return None
    if not all(component.mode.is_positive for component in meta.components.values()):
        return None
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    if code == "validation_error":
        raise Failure(operation=case.operation.label, title="Schema-valid request failed validation",
                      message=f"the schema allows this request, the server's validation refused it: "
                              f"{response.content[:300]!r}")
    return None
