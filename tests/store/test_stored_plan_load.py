"""A plan read back from the store is not checked again address by address: it was checked
whole when applied (`domain.plan.STORED_PLAN`). Every process of a night loads the plan; at
13,000 units email-validator spent most of each load on addresses already checked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import email_validator
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from plan_tracker.domain.plan import STORED_PLAN, Plan
from plan_tracker.planfile import PlanFileError, load_plan
from plan_tracker.services import context as context_module
from plan_tracker.services.context import plan_context
from plan_tracker.services.plans import apply_plan
from plan_tracker.store.db import migrate

BAD = "zhangwei@@qingxi.org"


def _spec_with_bad_address(founding_plan: Path) -> dict[str, Any]:
    spec = load_plan(founding_plan).model_dump(mode="json")
    spec["units"][0]["contact"]["email"] = BAD
    return spec


def test_a_new_plan_still_has_every_address_checked(founding_plan: Path) -> None:
    with pytest.raises(ValidationError, match=r"units\.0\.contact\.email"):
        Plan.model_validate(_spec_with_bad_address(founding_plan))


def test_a_stored_plan_keeps_its_addresses_as_they_were_applied(founding_plan: Path) -> None:
    plan = Plan.model_validate(_spec_with_bad_address(founding_plan), context=STORED_PLAN)
    assert plan.units[0].contact is not None and plan.units[0].contact.email == BAD


def test_loading_a_stored_plan_checks_no_address(engine: Engine, founding_plan: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(engine)
    apply_plan(engine, founding_plan)
    applied = load_plan(founding_plan)
    calls: list[str] = []

    def counting(value: str, **_: Any) -> Any:
        calls.append(value)
        raise email_validator.EmailNotValidError("checked again")

    monkeypatch.setattr(email_validator, "validate_email", counting)
    monkeypatch.setattr(context_module, "_PARSED", {})  # parse it here, not from an earlier test's cache
    with engine.connect() as conn:
        loaded = plan_context(conn, "jingzhou-2018", dt.date(2018, 7, 2)).plan
    assert calls == []
    assert [u.contact for u in loaded.units] == [u.contact for u in applied.units]
    with pytest.raises(PlanFileError):  # a plan file is still checked, address by address
        load_plan(founding_plan)
    assert calls
