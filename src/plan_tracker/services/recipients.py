"""Who each role means for a plan: recipients per channel, derived from the plan's contacts."""

from __future__ import annotations

from dataclasses import dataclass

from plan_tracker.domain.plan import Person, Plan

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
