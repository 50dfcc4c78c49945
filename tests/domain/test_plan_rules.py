"""Plan schema rules: field shapes on the models, whole-document rules in `cross_check`,
schedules checked by computing them, and the expansion into obligations."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import BadPeriod
from plan_tracker.domain.obligations import expand, obligation_period, schedule_issues
from plan_tracker.domain.plan import CalendarSpec, Plan, cross_check
from plan_tracker.wording import Msg, render

D = dt.date

BASE: dict[str, Any] = {
    "version": 1,
    "plan": {"id": "rules-2018", "title": "Rules", "coordinator": "legal-office",
             "start": "2018-01-01", "end": "2018-12-31", "warn_days": 3},
    "leading_group": {"name": "Leading group", "email": "lg@example.org"},
    "units": [
        {"id": "legal-office", "name": "Legal office", "groups": ["coordination"]},
        {"id": "town-a", "name": "Town A", "groups": ["enforcement", "towns"]},
        {"id": "town-b", "name": "Town B", "groups": ["enforcement", "towns"]},
        {"id": "justice-bureau", "name": "Justice bureau", "groups": ["enforcement"]},
    ],
    "escalation": [
        {"after": -3, "level": "remind", "notify": ["contact"]},
        {"after": 1, "level": "urge", "notify": ["contact", "head"]},
        {"after": 10, "level": "accountability", "notify": ["leading_group"]},
    ],
    "sections": [
        {"id": "capability", "title": "Capability", "tasks": [
            {"id": "capability.training", "title": "Training", "lead": "group:enforcement",
             "support": ["legal-office"], "every": "quarter", "due_after": 5,
             "indicators": [{"id": "trained", "name": "Trained", "target": 100}]},
            {"id": "capability.study-plan", "title": "Study plan", "lead": "legal-office",
             "due": "2018-03-31"},
        ]},
        {"id": "decisions", "title": "Decisions", "tasks": [
            {"id": "decisions.procedure", "title": "Procedure", "lead": ["town-a", "town-b"],
             "every": "half_year", "depends_on": ["capability.study-plan"]},
        ]},
    ],
}

Edit = Callable[[dict[str, Any]], object]


def doc(edit: Edit | None = None) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    if edit is not None:
        edit(data)
    return data


def task(data: dict[str, Any], section: int, index: int) -> dict[str, Any]:
    found: dict[str, Any] = data["sections"][section]["tasks"][index]
    return found


def plan(edit: Edit | None = None) -> Plan:
    return Plan.model_validate(doc(edit))


def errors_of(edit: Edit) -> list[str]:
    """Each error as `path: message`; the models' own rules in the catalogue's English."""
    with pytest.raises(ValidationError) as caught:
        plan(edit)
    return [f"{'.'.join(map(str, e['loc']))}: {_said(e)}" for e in caught.value.errors()]


def _said(error: Any) -> str:
    raised = (error.get("ctx") or {}).get("error")
    if isinstance(raised, ValueError) and isinstance(raised.args[0], Msg):
        return en(raised.args[0])
    return str(error["msg"])


def en(message: Msg | str) -> str:
    """A plan problem as the English catalogue words it (the rules are what is tested here;
    tests/test_error_messages.py holds the two languages in step)."""
    return render(message, "en")


def test_the_base_plan_is_valid() -> None:
    p = plan()
    assert cross_check(p) == []
    assert schedule_issues(p, WorkCalendar(p.plan.calendar)) == []


# -- field-level rules (the models) ------------------------------------------------------
@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: task(d, 0, 1).pop("due"), "needs either `due` (one-off) or `every`"),
        (lambda d: task(d, 0, 1).update(every="month"), "either `due` (one-off) or `every`, not both"),
        (lambda d: task(d, 0, 1).update(due_after=2), "`due_after` applies only to recurring tasks"),
        (lambda d: task(d, 0, 1).update(lead="Legal Office"), "neither a unit id nor group:NAME"),
        (lambda d: task(d, 0, 1).update(lead=[]), "lead needs at least one unit id"),
        (lambda d: task(d, 0, 1).update(every=None, due=None, owner="x"), "Extra inputs are not permitted"),
        (lambda d: task(d, 0, 0).update(every="fortnight"), "Input should be 'week'"),
        (lambda d: task(d, 0, 0).update(id="Capability.Training"), "should match pattern"),
        (lambda d: d["plan"].update(id="Rules_2018"), "should match pattern"),
        (lambda d: d["plan"].update(warn_days="three"), "valid integer"),
        (lambda d: d["plan"].update(warn_days=61), "less than or equal to 60"),
        (lambda d: d["plan"].update(timezone="Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (lambda d: d["plan"].update(end="2017-12-31"), "plan end 2017-12-31 is before its start"),
        (lambda d: d["plan"].update(end="2025-12-31"), "at most five years"),
        (lambda d: d["plan"].update(calendar="HK"), "Input should be 'CN' or 'weekends'"),
        (lambda d: d.update(version=2), "Input should be 1"),
        (lambda d: d.update(sections=[]), "at least 1 item"),
        (lambda d: d["escalation"][0].update(notify=["mayor"]), "Input should be 'contact'"),
        (lambda d: d["units"][0].update(contact={"name": "Zhang", "email": "not-an-address"}),
         "'not-an-address' is not a valid e-mail address"),
    ],
)
def test_field_rules_reject_bad_values(edit: Edit, fragment: str) -> None:
    messages = errors_of(edit)
    assert any(fragment in m for m in messages), messages


def test_calendar_shorthand_and_overrides() -> None:
    assert plan().plan.calendar == CalendarSpec(base="CN")
    p = plan(lambda d: d["plan"].update(calendar={"base": "CN", "holidays": ["2018-10-08"]}))
    assert p.plan.calendar.holidays == [D(2018, 10, 8)]
    assert plan(lambda d: d["plan"].update(calendar="weekends")).plan.calendar.base == "weekends"


# -- whole-document rules (cross_check) ------------------------------------------------------
@pytest.mark.parametrize(
    ("edit", "path", "fragment"),
    [
        (lambda d: d["units"].append({"id": "town-a", "name": "Town A again"}), ("units", 4, "id"),
         "duplicate unit id 'town-a'"),
        (lambda d: d.update(groups=[{"id": "towns", "name": "T"}, {"id": "towns", "name": "T2"}]),
         ("groups", 1, "id"), "duplicate group id 'towns'"),
        (lambda d: d["sections"][1].update(id="capability"), ("sections", 1, "id"),
         "duplicate section id"),
        # Task ids are unique across the whole plan, not just within a section.
        (lambda d: task(d, 1, 0).update(id="capability.training"),
         ("sections", 1, "tasks", 0, "id"), "duplicate task id 'capability.training'"),
        (lambda d: task(d, 0, 0)["indicators"].append({"id": "trained", "name": "Again"}),
         ("sections", 0, "tasks", 0, "indicators", 1, "id"), "duplicate indicator id 'trained'"),
        (lambda d: d["plan"].update(coordinator="mayor-office"), ("plan", "coordinator"),
         "unknown unit 'mayor-office'"),
        (lambda d: task(d, 0, 1).update(lead="ghost"), ("sections", 0, "tasks", 1, "lead"),
         "unknown unit 'ghost'"),
        (lambda d: task(d, 1, 0).update(lead=["town-a", "ghost"]),
         ("sections", 1, "tasks", 0, "lead", 1), "unknown unit 'ghost'"),
        (lambda d: task(d, 0, 0).update(lead="group:police"), ("sections", 0, "tasks", 0, "lead"),
         "unknown group 'police'"),
        # A group declared in `groups:` that no unit belongs to leads nobody.
        (lambda d: (d.update(groups=[{"id": "parks", "name": "Parks"}]),
                    task(d, 0, 0).update(lead="group:parks")),
         ("sections", 0, "tasks", 0, "lead"), "group 'parks' has no units"),
        (lambda d: task(d, 0, 0).update(support=["legal-office", "ghost"]),
         ("sections", 0, "tasks", 0, "support", 1), "unknown unit 'ghost'"),
        (lambda d: task(d, 1, 0).update(depends_on=["capability.nothing"]),
         ("sections", 1, "tasks", 0, "depends_on", 0), "unknown task 'capability.nothing'"),
        (lambda d: task(d, 0, 1).update(due="2019-01-15"), ("sections", 0, "tasks", 1, "due"),
         "due date 2019-01-15 is outside the plan (2018-01-01 to 2018-12-31)"),
        (lambda d: d["escalation"][2].update(level="remind"), ("escalation", 2, "level"),
         "duplicate escalation level 'remind'"),
        (lambda d: d["escalation"][2].update(after=1), ("escalation", 2, "after"),
         "two steps fire at the same offset 1"),
        (lambda d: d.pop("leading_group"), ("escalation", 2, "notify"),
         "notifies leading_group but the plan has no leading_group"),
        (lambda d: d.update(scoring={"per_level": {"reprimand": 5}}), ("scoring", "per_level", "reprimand"),
         "unknown escalation level 'reprimand'"),
    ],
)
def test_cross_check_finds_and_locates_each_fault(edit: Edit, path: tuple[Any, ...], fragment: str) -> None:
    issues = cross_check(plan(edit))
    assert [(i.path, fragment in en(i.message)) for i in issues] == [(path, True)], issues


def test_a_task_depending_on_itself_is_one_fault_with_one_message() -> None:
    issues = cross_check(plan(lambda d: task(d, 0, 1).update(depends_on=["capability.study-plan"])))
    assert [(i.path, i.message.id) for i in issues] == [
        (("sections", 0, "tasks", 1, "depends_on", 0), "plan.depends_on_itself")
    ]


def test_a_dependency_cycle_is_reported_once_with_its_members() -> None:
    def cycle(d: dict[str, Any]) -> None:
        task(d, 0, 0)["depends_on"] = ["decisions.procedure"]
        task(d, 0, 1)["depends_on"] = ["capability.training"]
        # decisions.procedure already depends on capability.study-plan: a three-task loop.

    issues = cross_check(plan(cycle))
    assert len(issues) == 1
    assert en(issues[0].message).startswith("dependency cycle: ")
    assert render(issues[0].message, "zh").startswith("任务循环依赖：")
    members = en(issues[0].message).removeprefix("dependency cycle: ").split(" -> ")
    assert members[0] == members[-1]
    assert set(members) == {"capability.training", "capability.study-plan", "decisions.procedure"}


def test_cross_check_returns_every_fault_not_just_the_first() -> None:
    def many(d: dict[str, Any]) -> None:
        d["units"].append({"id": "town-a", "name": "Town A again"})
        task(d, 0, 1)["lead"] = "ghost"
        task(d, 0, 1)["due"] = "2019-02-01"
        d["escalation"][1]["level"] = "remind"

    messages = sorted(en(i.message) for i in cross_check(plan(many)))
    assert len(messages) == 4, messages


# -- schedules, checked by computing them ----------------------------------------------------
def test_a_year_task_in_a_plan_shorter_than_a_year_has_no_period() -> None:
    def short(d: dict[str, Any]) -> None:
        d["plan"]["start"] = "2018-03-01"
        task(d, 0, 0).update(every="year", due_after=None)

    p = plan(short)
    issues = schedule_issues(p, WorkCalendar())
    assert [(i.path, en(i.message), render(i.message, "zh")) for i in issues] == [
        (("sections", 0, "tasks", 0, "every"), "no whole year lies inside the plan's dates", "计划起止日期内没有一个完整的年度")
    ]


def _in_2027(d: dict[str, Any]) -> None:
    d["plan"].update(start="2027-01-01", end="2027-12-31")
    task(d, 0, 1)["due"] = "2027-03-31"


def test_a_plan_in_an_unpublished_year_is_refused_task_by_task() -> None:
    p = plan(_in_2027)
    issues = schedule_issues(p, WorkCalendar(p.plan.calendar))
    assert len(issues) == 3  # each task is located separately
    assert all("no official schedule for 2027" in en(i.message) for i in issues)


def test_a_plan_supplying_its_year_is_accepted() -> None:
    def supplied(d: dict[str, Any]) -> None:
        _in_2027(d)
        d["plan"]["calendar"] = {"base": "CN", "years": [2027, 2028],
                                 "holidays": ["2027-01-01", "2027-10-01"]}

    p = plan(supplied)
    assert schedule_issues(p, WorkCalendar(p.plan.calendar)) == []


def test_a_supplied_year_does_not_cover_the_next_one() -> None:
    # Q4 2027 is due five working days after 12-31, i.e. in January 2028, which nobody
    # published: the plan must supply 2028 too (the previous test does).
    def only_2027(d: dict[str, Any]) -> None:
        _in_2027(d)
        d["plan"]["calendar"] = {"base": "CN", "years": [2027]}

    p = plan(only_2027)
    issues = schedule_issues(p, WorkCalendar(p.plan.calendar))
    assert [i.path for i in issues] == [("sections", 0, "tasks", 0, "every")]
    assert "2028" in en(issues[0].message)


# -- expansion into obligations ---------------------------------------------------------------
def test_a_quarterly_task_led_by_thirty_units_gives_120_obligations() -> None:
    # DESIGN's glossary: group `enforcement` with 30 units, quarterly -> 120 a year.
    def thirty(d: dict[str, Any]) -> None:
        d["units"] = [d["units"][0]] + [
            {"id": f"enforcer-{i:02d}", "name": f"Enforcer {i}", "groups": ["enforcement"]}
            for i in range(30)
        ]
        d["sections"] = [{"id": "s", "title": "S", "tasks": [task(d, 0, 0)]}]
        task(d, 0, 0)["support"] = []

    obligations = list(expand(plan(thirty), WorkCalendar()))
    assert len(obligations) == 120
    assert {o.period for o in obligations} == {"2018-Q1", "2018-Q2", "2018-Q3", "2018-Q4"}
    assert len({(o.task, o.unit, o.period) for o in obligations}) == 120


def test_expansion_counts_each_lead_unit_once_in_plan_order() -> None:
    # town-a is named and also in group `towns`: it leads once.
    p = plan(lambda d: task(d, 0, 1).update(lead=["town-b", "group:towns", "town-a"]))
    once = [o for o in expand(p, WorkCalendar()) if o.task == "capability.study-plan"]
    assert [(o.unit, o.period) for o in once] == [("town-b", "once"), ("town-a", "once")]


def test_expanded_obligations_carry_periods_dues_and_warn_days() -> None:
    p = plan(lambda d: task(d, 1, 0).update(warn_days=7))
    obligations = list(expand(p, WorkCalendar()))
    by_key = {(o.task, o.unit, o.period): o for o in obligations}
    assert len(obligations) == 3 * 4 + 1 + 2 * 2
    study = by_key[("capability.study-plan", "legal-office", "once")]
    # 2018-03-31 is a Saturday: rolls to Monday 04-02. A one-off's period starts with the plan.
    assert (study.period_start, study.period_end, study.due, study.warn_days) == (
        D(2018, 1, 1), D(2018, 3, 31), D(2018, 4, 2), 3)
    half = by_key[("decisions.procedure", "town-b", "2018-H2")]
    # H2 ends 12-31, inside the New Year break: due 2019-01-02; the task's own warn_days win.
    assert (half.period_start, half.due, half.warn_days) == (D(2018, 7, 1), D(2019, 1, 2), 7)


def test_obligation_period_resolves_keys_inside_the_plan_only() -> None:
    p = plan()
    training, study = p.sections[0].tasks
    assert obligation_period(p, training, "2018-Q2").start == D(2018, 4, 1)
    assert obligation_period(p, study, "once").start == D(2018, 1, 1)
    with pytest.raises(BadPeriod, match="outside plan 'rules-2018'"):
        obligation_period(p, training, "2019-Q1")
    with pytest.raises(BadPeriod, match="not a quarter key"):
        obligation_period(p, training, "2018-03")
