"""Who each role means for a plan: recipients per channel, derived from the plan's contacts."""

from __future__ import annotations

from dataclasses import dataclass

from plan_tracker.domain.messages import msg
from plan_tracker.domain.plan import Person, Plan
from plan_tracker.wording import Msg

PLAN_WIDE = "*"
CHANNEL_FIELDS = ("email", "dingtalk", "wecom", "webhook")


@dataclass(frozen=True)
class RecipientSpec:
    key: str
    name: str
    channel: str
    address: str


def person_recipients(person: Person) -> list[RecipientSpec]:
    found = []
    for field in CHANNEL_FIELDS:
        address = getattr(person, field)
        if address:
            found.append(RecipientSpec(f"{field}:{address}", person.name, field, address))
    return found


def plan_recipients(plan: Plan) -> tuple[list[RecipientSpec], list[tuple[str, str, str]]]:
    """(recipients, role rows (unit_id, role, recipient_key)) for a plan."""
    recipients: dict[str, RecipientSpec] = {}
    roles: set[tuple[str, str, str]] = set()

    def add(unit_id: str, role: str, person: Person | None) -> None:
        for spec in person_recipients(person) if person else []:
            recipients.setdefault(spec.key, spec)
            roles.add((unit_id, role, spec.key))

    for unit in plan.units:
        add(unit.id, "contact", unit.contact)
        add(unit.id, "head", unit.head)
    coordinator = next((u for u in plan.units if u.id == plan.plan.coordinator), None)
    if coordinator is not None:
        add(PLAN_WIDE, "coordinator", coordinator.contact or coordinator.head)
    group = plan.leading_group
    if group is not None:
        if group.email:
            add(PLAN_WIDE, "leading_group", Person(name=group.name, email=group.email))
        for person in group.recipients:
            add(PLAN_WIDE, "leading_group", person)
    return list(recipients.values()), sorted(roles)


@dataclass(frozen=True)
class Unreachable:
    """A ladder step's role that resolves to nobody with an address for a unit ('*': plan-wide)."""

    level: str
    role: str
    unit_id: str

    def message(self, plan: Plan) -> Msg:
        """The warning `plan validate` prints, worded later in the plan's locale."""
        if self.unit_id == PLAN_WIDE:
            who = {"coordinator": msg("out.who_coordinator"), "leading_group": msg("out.who_leading_group")}.get(
                self.role, msg("out.who_role", role=self.role))
            return msg("out.unreachable_plan_wide", level=self.level, role=self.role, who=who)
        unit = plan.unit(self.unit_id)
        return msg("out.unreachable_unit", level=self.level, role=self.role, name=unit.name, unit=unit.id)

    def sentence(self, plan: Plan) -> str:
        return self.message(plan).render("en")


def unreachable_roles(plan: Plan) -> list[Unreachable]:
    """Every (step, role, unit) of the ladder that no address reaches, for the units that
    lead a task (they are the ones reminded). The night records such reminders `dead` with
    the reason (`evaluation_sql.UNREACHABLE`); `plan validate` warns about them first."""
    _, roles = plan_recipients(plan)
    held = {(unit_id, role) for unit_id, role, _ in roles}
    leading = sorted({u for _, task in plan.tasks() for u in plan.expand_lead(task)}, key=lambda u: u)
    found: list[Unreachable] = []
    for step in plan.ladder():
        for role in step.notify:
            if role.value in ("contact", "head"):
                found += [Unreachable(step.level, role.value, u) for u in leading if (u, role.value) not in held]
            elif (PLAN_WIDE, role.value) not in held:
                found.append(Unreachable(step.level, role.value, PLAN_WIDE))
    return found
