"""The reply forms of a delivery batch are read together: their status rows in one statement
per batch (`ReplyForms.prefetch`), not a few per form, so the statements the forms run do not
grow with the units of the batch; and a form read that way is the form read alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, event

from plan_tracker.inbox.forms import ReplyForms, forms_for
from plan_tracker.services.delivery import deliver
from plan_tracker.services.nightly import evaluate
from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings

NIGHT = dt.date(2018, 7, 20)
NOW = dt.datetime(2018, 7, 20, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai: inside the delivery window
LADDER = [{"after": -3, "level": "remind", "notify": ["contact"]},
          {"after": 1, "level": "urge", "notify": ["contact", "head"]}]


def write_plan(folder: Path, plan_id: str, units: int) -> Path:
    """`units` counties with three monthly tasks each: by the night, each contact's reminder
    lists a few overdue months."""
    doc = {
        "version": 1,
        "plan": {"id": plan_id, "title": "月度工作台账", "coordinator": "county-000",
                 "start": "2018-01-01", "end": "2018-12-31", "warn_days": 3},
        "units": [{"id": f"county-{i:03d}", "name": f"县{i}", "groups": ["counties"],
                   "contact": {"name": f"联络员{i}", "email": f"c{i}@example.org"},
                   "head": {"name": f"负责人{i}", "email": f"h{i}@example.org"}} for i in range(units)],
        "escalation": LADDER,
        "sections": [{"id": "monthly", "title": "月度任务", "tasks": [
            {"id": f"m{t}", "title": f"月度任务{t}", "lead": "group:counties", "every": "month", "due_after": 5 + t}
            for t in range(3)]}],
    }
    path = folder / f"{plan_id}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class CountedForms(ReplyForms):
    """ReplyForms counting the statements run inside its calls, and checking each message's
    forms against the same forms read on their own (no batch read)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__(engine, settings)
        self.statements = 0
        self.forms = 0
        self.inside = False
        self.alone: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_: Any) -> None:
        self.statements += self.inside

    def prefetch(self, plan: Any, messages: Any, as_of: dt.date) -> None:
        self.inside = True
        try:
            super().prefetch(plan, messages, as_of)
        finally:
            self.inside = False

    def for_message(self, plan: Any, recipient: Any, model: Any, as_of: dt.date) -> Any:
        self.inside = True
        try:
            found = super().for_message(plan, recipient, model, as_of)
        finally:
            self.inside = False
        self.forms += len(found)
        alone = forms_for(self.engine, plan, recipient, model, as_of=as_of, settings=self.settings)
        self.alone.append((found, alone))
        return found


def night_forms(engine: Engine, folder: Path, plan_id: str, units: int) -> CountedForms:
    apply_plan(engine, write_plan(folder, plan_id, units), actor="test", source="test")
    evaluate(engine, plan_id, NIGHT, now=NOW)
    settings = Settings(data_dir=folder / "var")
    forms = CountedForms(engine, settings)
    try:
        deliver(engine, plan_id, now=NOW, as_of=NIGHT, settings=settings, forms=forms)
    finally:
        event.remove(engine, "before_cursor_execute", forms._count)
    return forms


def test_a_batch_s_forms_are_read_in_as_many_statements_for_3_units_as_for_40(engine: Engine,
                                                                            tmp_path: Path) -> None:
    few = night_forms(engine, tmp_path, "few-2018", 3)
    many = night_forms(engine, tmp_path, "many-2018", 40)  # 80 recipients: one batch of the file outbox
    assert (few.forms, many.forms) == (3, 40)  # one form per unit contact
    assert many.statements == few.statements <= 8, (few.statements, many.statements)  # context, then one read


def test_a_form_read_with_its_batch_is_the_form_read_alone(engine: Engine, tmp_path: Path) -> None:
    forms = night_forms(engine, tmp_path, "few-2018", 3)
    pairs = [(batched, alone) for batched, alone in forms.alone if batched]
    assert len(pairs) == 3
    for batched, alone in pairs:
        assert [(a.filename, a.content) for a in batched] == [(a.filename, a.content) for a in alone]
