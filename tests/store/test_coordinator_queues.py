"""The coordinator's two queues, each held to what this module computes from the rows, on both
backends, with another plan's reports in the same store:

- the review queue (`portal.report_list(awaiting_review=True)`): done reports that are their
  obligation's latest and have no review, of the plan's active obligations, oldest first, a
  page at a time. A large plan's queue is read from the done reports by arrival, a small
  plan's (and a unit's, an obligation's) from the obligations: both ways are checked;
- the paused items (`blocked.blocked_items`): the latest report dated and received by the
  day says blocked, and no resume on or after it and by the day."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from plan_tracker.services import portal
from plan_tracker.services.blocked import blocked_items
from plan_tracker.services.plans import apply_plan
from plan_tracker.store.models import Obligation, StatusReport
from plan_tracker.store.portal_models import EscalationResume, ReportReview

PLAN, OTHER = "jingzhou-2018", "other-2018"
STATUSES = ["done", "done", "in_progress", "not_started", "blocked"]


def _other_plan(founding_plan: Path, folder: Path) -> Path:
    text = founding_plan.read_text(encoding="utf-8")
    units = (founding_plan.parent / "../units/jingzhou.yaml").resolve()
    path = folder / "other.yaml"
    path.write_text(text.replace(f"id: {PLAN}", f"id: {OTHER}", 1).replace("../units/jingzhou.yaml", str(units)),
                    encoding="utf-8")
    return path


def _fill(engine: Engine, seed: int) -> None:
    """Reports on a random third of each plan's obligations (one to four each, some on the same
    day, arrivals out of order and sometimes equal), reviews of some done ones, some obligations
    made inactive."""
    rng = random.Random(seed)
    o = Obligation.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        rows = conn.execute(select(o.c.id, o.c.plan_id)).all()
        reports = []
        for oid, _ in rows:
            if rng.random() < 0.35:
                for _ in range(rng.randint(1, 4)):
                    day = dt.date(2018, rng.randint(1, 12), rng.randint(1, 28))
                    arrived = dt.datetime(2018, 12, 1, rng.randint(0, 5), tzinfo=dt.UTC)  # few distinct: ties on id
                    received = day + dt.timedelta(days=rng.choice([0, 0, 3, 30]))  # some arrive days or weeks later
                    reports.append({"obligation_id": oid, "status": rng.choice(STATUSES), "indicator_values": {},
                                    "reported_on": day, "received_on": received, "received_at": arrived,
                                    "source": "web", "actor": "test"})
        rng.shuffle(reports)
        conn.execute(insert(StatusReport.__table__), reports)  # type: ignore[attr-defined]
        r = StatusReport.__table__  # type: ignore[attr-defined]
        done = conn.execute(select(r.c.id, r.c.obligation_id, o.c.plan_id).join(o, o.c.id == r.c.obligation_id)
                            .where(r.c.status == "done")).all()
        reviews = [{"plan_id": plan, "report_id": rid, "obligation_id": oid, "decision": rng.choice(["accepted", "sent_back"]),
                    "decided_by": "test", "decided_on": dt.date(2018, 12, 2)}
                   for rid, oid, plan in done if rng.random() < 0.3]
        conn.execute(insert(ReportReview.__table__), reviews)  # type: ignore[attr-defined]
        blocked = conn.execute(select(r.c.obligation_id, r.c.reported_on, o.c.plan_id).join(o, o.c.id == r.c.obligation_id)
                               .where(r.c.status == "blocked")).all()
        resumes = [{"plan_id": plan, "obligation_id": oid, "resumed_on": day + dt.timedelta(days=rng.choice([-5, 0, 10])),
                    "decided_by": "test"} for oid, day, plan in blocked if rng.random() < 0.4]
        conn.execute(insert(EscalationResume.__table__), resumes)  # type: ignore[attr-defined]
        inactive = [oid for oid, _ in rows if rng.random() < 0.1]
        conn.execute(update(o).where(o.c.id.in_(inactive)).values(active=False))


def _expected(engine: Engine, plan_id: str, unit: str | None, obligation: int | None) -> list[int]:
    """The queue's report ids, computed from the rows in Python."""
    o, r = Obligation.__table__, StatusReport.__table__  # type: ignore[attr-defined]
    rv = ReportReview.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        obligations = {row.id: row for row in conn.execute(select(o.c.id, o.c.plan_id, o.c.unit_id, o.c.active))}
        reports = conn.execute(select(r.c.id, r.c.obligation_id, r.c.status, r.c.reported_on, r.c.received_at)).all()
        reviewed = set(conn.execute(select(rv.c.report_id)).scalars())
    latest: dict[int, Any] = {}
    for row in reports:
        if row.obligation_id not in latest or (row.reported_on, row.id) > (latest[row.obligation_id].reported_on,
                                                                            latest[row.obligation_id].id):
            latest[row.obligation_id] = row
    queue = [row for row in latest.values()
             if row.status == "done" and row.id not in reviewed
             and obligations[row.obligation_id].plan_id == plan_id and obligations[row.obligation_id].active
             and (unit is None or obligations[row.obligation_id].unit_id == unit)
             and (obligation is None or row.obligation_id == obligation)]
    return [row.id for row in sorted(queue, key=lambda row: (row.received_at, row.id))]  # one store: alike in tz


def _queue(engine: Engine, plan_id: str, **scope: Any) -> list[int]:
    with engine.connect() as conn:
        return [view.id for view in portal.report_list(conn, plan_id, awaiting_review=True, **scope)]


@pytest.mark.parametrize("large_from", [1, 10**9], ids=["from-the-done-reports", "from-the-obligations"])
def test_the_review_queue_is_the_latest_unreviewed_done_reports_oldest_first(
        engine: Engine, founding_plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, large_from: int) -> None:
    monkeypatch.setattr(portal, "LARGE_PLAN", large_from)
    apply_plan(engine, founding_plan, actor="test", source="test")
    apply_plan(engine, _other_plan(founding_plan, tmp_path), actor="test", source="test")
    _fill(engine, seed=17)
    for plan_id in (PLAN, OTHER):
        whole = _expected(engine, plan_id, None, None)
        assert len(whole) > 20  # the pages below are real pages
        assert _queue(engine, plan_id, limit=1000) == whole
        assert _queue(engine, plan_id, limit=7, offset=0) == whole[:7]
        assert _queue(engine, plan_id, limit=7, offset=13) == whole[13:20]
    with engine.connect() as conn:
        units = sorted(set(conn.execute(select(Obligation.__table__.c.unit_id)  # type: ignore[attr-defined]
                                        .where(Obligation.__table__.c.plan_id == PLAN)).scalars()))  # type: ignore[attr-defined]
    unit = max(units, key=lambda u: len(_expected(engine, PLAN, u, None)))
    assert _queue(engine, PLAN, unit_id=unit, limit=1000) == _expected(engine, PLAN, unit, None) != []
    first = _expected(engine, PLAN, None, None)[0]
    with engine.connect() as conn:
        oid = conn.execute(select(StatusReport.__table__.c.obligation_id)  # type: ignore[attr-defined]
                           .where(StatusReport.__table__.c.id == first)).scalar_one()  # type: ignore[attr-defined]
    assert _queue(engine, PLAN, obligation_id=oid) == [first]
    assert _queue(engine, "no-such-plan") == []


def _paused(engine: Engine, plan_id: str, day: dt.date, active_only: bool) -> list[int]:
    """The paused items' obligation ids on `day`, oldest blocked report first, from the rows."""
    o, r = Obligation.__table__, StatusReport.__table__  # type: ignore[attr-defined]
    rs = EscalationResume.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        obligations = {row.id: row for row in conn.execute(select(o.c.id, o.c.plan_id, o.c.active))}
        reports = conn.execute(select(r.c.id, r.c.obligation_id, r.c.status, r.c.reported_on, r.c.received_on)).all()
        resumes = conn.execute(select(rs.c.obligation_id, rs.c.resumed_on)).all()
    latest: dict[int, Any] = {}
    for row in reports:
        if row.reported_on <= day and row.received_on <= day and (
                row.obligation_id not in latest
                or (row.reported_on, row.id) > (latest[row.obligation_id].reported_on, latest[row.obligation_id].id)):
            latest[row.obligation_id] = row
    found = [row for oid, row in latest.items()
             if row.status == "blocked" and obligations[oid].plan_id == plan_id
             and (obligations[oid].active or not active_only)
             and not any(oid == resumed and row.reported_on <= on <= day for resumed, on in resumes)]
    return [row.obligation_id for row in sorted(found, key=lambda row: (row.reported_on, row.obligation_id))]


def test_the_paused_items_are_those_whose_latest_report_is_blocked_and_not_resumed(
        engine: Engine, founding_plan: Path, tmp_path: Path) -> None:
    apply_plan(engine, founding_plan, actor="test", source="test")
    apply_plan(engine, _other_plan(founding_plan, tmp_path), actor="test", source="test")
    _fill(engine, seed=23)
    checked = 0
    for day in (dt.date(2018, 3, 1), dt.date(2018, 7, 15), dt.date(2018, 12, 31)):
        for active_only in (True, False):
            for plan_id in (PLAN, OTHER):
                expected = _paused(engine, plan_id, day, active_only)
                with engine.connect() as conn:
                    assert [b.obligation_id for b in blocked_items(conn, plan_id, day, active_only=active_only)] == expected
                    assert [b.obligation_id for b in blocked_items(conn, plan_id, day, limit=3,
                                                                   active_only=active_only)] == expected[:3]
                checked += len(expected)
    assert checked > 50  # the store has paused items to find
    with engine.connect() as conn:
        assert blocked_items(conn, "no-such-plan", dt.date(2018, 12, 31)) == []
