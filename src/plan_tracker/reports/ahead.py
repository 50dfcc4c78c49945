"""The day's report built beside the night, so the report stage only renders and writes.

A province's report model took about 0.75 s of SQL after delivery, on one core, while the
other sat idle; most of it (the items, the task and unit figures, the indicators) depends on
the status reports alone, known before the night evaluates. A thread started with the night
builds the model on its own connection (`build_report(..., wait=)`): once the night has
collected tonight's status reports (mailbox and inbox folder), that part while the night
evaluates, on the core evaluation leaves idle; the reminders' counts and the notice once
the evaluation has committed; the overdue list (its reminders show their delivery states), the trend
(tonight's snapshot) and the blocked items once delivery and the snapshot are done. The
report is then the one `build_report` gives after the night, read by the same code in the
same order, only earlier.

On the week's report day the thread also hands the night's delivery the week's report
part carried by the managers' messages (`weekly_parts`), from the same items, as soon as their
lights are counted: at 1M obligations a delivery process otherwise evaluated every item again
for it. Delivery waits for it (the thread counts the lights right after the collect stage,
so it is there long before) unless the thread has failed, then builds it itself.

The thread writes nothing. If it fails, or the night stops before its report stage, the
thread is let go and the stage builds the report itself, as it always did: a report built
ahead can only save time, never change what the night delivers or writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from plan_tracker.background import yield_to_the_night
from plan_tracker.reports.phases import COLLECTED, DELIVERED, EVALUATED

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from plan_tracker.reports.build import WeeklyWanted
    from plan_tracker.reports.model import Report, WeeklyFigures
    from plan_tracker.services.context import PlanContext
    from plan_tracker.services.messages import WeeklyPart

log = logging.getLogger(__name__)

# The stage after which the night has reached each phase of the report.
PHASE_AFTER_STAGE = {"collect": COLLECTED, "evaluate": EVALUATED, "snapshot": DELIVERED}


def build_report(*args: Any, **kwargs: Any) -> Report:
    """`reports.build.build_report`, imported on the first call: in the thread, while the
    night evaluates, not by the night's start (the report's queries bring their modules)."""
    from plan_tracker.reports.build import build_report as build

    return build(*args, **kwargs)


class _LetGo(Exception):
    """The night ended before its report stage: the thread stops where it waits."""


class ReportAhead:
    """One night's report, built by a thread that follows the night's stages."""

    def __init__(self, engine: Engine, context: PlanContext, as_of: dt.date) -> None:
        self._reached = {phase: threading.Event() for phase in PHASE_AFTER_STAGE.values()}
        self._let_go = False
        self._report: Report | None = None
        self._weekly: dict[dt.date, WeeklyPart] = {}
        self._weekly_settled = threading.Event()  # the part published, or none coming
        self._thread = threading.Thread(target=self._build, args=(engine, context, as_of),
                                        name="report-ahead", daemon=True)

    def start(self) -> ReportAhead:
        self._thread.start()
        return self

    def _build(self, engine: Engine, context: PlanContext, as_of: dt.date) -> None:
        try:
            yield_to_the_night()
            # The status reports the night collects (mailbox, inbox folder) are in the report:
            # nothing is read before the collect stage has committed them. The night imports
            # nothing while it evaluates, so the modules loaded here never race its own.
            self._wait(COLLECTED)
            self._report = build_report(engine, context, as_of, wait=self._wait,
                                        weekly=self._weekly_wanted(engine, context, as_of))
        except _LetGo:
            pass
        except Exception:  # the stage builds it again; say why this one failed
            log.warning("the report built beside the night failed; the report stage builds it", exc_info=True)
        finally:  # however the thread ends, delivery does not wait for a week's part (`weekly_parts`)
            self._weekly_settled.set()

    def _weekly_wanted(self, engine: Engine, context: PlanContext, as_of: dt.date) -> WeeklyWanted | None:
        """On the week's report night, the week's figures as `reports.weekly_mail.WeeklyParts`
        builds them (its change since, its overdue items), asked of the report being built."""
        from plan_tracker.reports.build import WeeklyWanted
        from plan_tracker.reports.schedule import weekly_night
        from plan_tracker.reports.weekly_mail import OVERDUE_LISTED, weekly_since

        if not weekly_night(engine, context.plan, as_of):
            self._weekly_settled.set()
            return None
        with engine.connect() as conn:
            since = weekly_since(conn, context.id, as_of)
        return WeeklyWanted(since, OVERDUE_LISTED, self._publish_weekly)

    def _publish_weekly(self, figures: WeeklyFigures) -> None:
        from plan_tracker.reports.weekly_mail import weekly_part

        self._weekly[figures.as_of] = weekly_part(figures)
        self._weekly_settled.set()

    def weekly_parts(self) -> dict[dt.date, WeeklyPart]:
        """The week's report part of tonight, for the night's delivery (called after the
        collect stage): once the thread has counted the lights; none on other nights, nor
        when the thread failed (delivery then builds it)."""
        self._weekly_settled.wait()
        return dict(self._weekly)

    def _wait(self, phase: str) -> None:
        self._reached[phase].wait()
        if self._let_go:
            raise _LetGo

    def passed(self, stage: str) -> None:
        """The night has finished `stage` (committed what it writes)."""
        phase = PHASE_AFTER_STAGE.get(stage)
        if phase is not None:
            self._reached[phase].set()

    def report(self) -> Report | None:
        """The report, once every phase is reached; None when it failed or cannot be had
        (the caller builds it)."""
        if not all(event.is_set() for event in self._reached.values()):
            return None
        self._thread.join()
        return self._report

    def let_go(self) -> None:
        """The night is over: a thread still waiting stops (its connection rolls back and
        drops its temporary tables); one in the middle of a statement finishes it first."""
        self._let_go = True
        self._weekly_settled.set()
        for event in self._reached.values():
            event.set()
        self._thread.join()


@contextmanager
def report_ahead(engine: Engine, context: PlanContext, as_of: dt.date, *, wanted: bool) -> Iterator[ReportAhead | None]:
    """A report built beside the night when the night writes report files (`wanted`); never
    on an in-memory store, which a thread's own connection would find empty."""
    from plan_tracker.store.db import in_memory

    if not wanted or in_memory(engine.url):
        yield None
        return
    ahead = ReportAhead(engine, context, as_of).start()
    try:
        yield ahead
    finally:
        ahead.let_go()
