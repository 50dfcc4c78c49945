"""What the later stages load (the delivery's modules and message templates, the report's
renderers) is loaded in a thread while the night evaluates (`night.WARM_UP_AFTER`); the
stage waits for it, and a warm-up that fails changes nothing but the time."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from plan_tracker import background
from plan_tracker import night as night_module
from plan_tracker.reports import delivery_processes, files, weekly_mail
from plan_tracker.services import nightly
from plan_tracker.settings import Settings

DAY = dt.date(2018, 10, 8)  # the first working day after the holiday: reminders go out


def test_delivery_is_warmed_up_while_the_night_evaluates_and_before_it_delivers(
        night: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    calls: list[tuple[tuple[str, ...], str]] = []
    priorities: list[int] = []
    real_evaluate, real_warm_up = nightly.evaluate, delivery_processes.warm_up
    evaluated = threading.Event()

    def evaluate(*args: Any, **kwargs: Any) -> Any:
        events.append("evaluate")
        result = real_evaluate(*args, **kwargs)
        evaluated.set()
        return result

    def warm_up(locales: tuple[str, ...]) -> None:
        calls.append((tuple(locales), threading.current_thread().name))
        priorities.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        evaluated.wait(10)  # slower than the evaluation: the deliver stage must wait for it
        real_warm_up(locales)
        events.append("warmed")

    def deliver(*args: Any, **kwargs: Any) -> Any:
        events.append("deliver")
        return real_deliver(*args, **kwargs)

    real_deliver = weekly_mail.deliver_with_weekly
    monkeypatch.setattr(nightly, "evaluate", evaluate)
    monkeypatch.setattr(delivery_processes, "warm_up", warm_up)
    monkeypatch.setattr(weekly_mail, "deliver_with_weekly", deliver)
    summary = night(DAY)
    assert calls == [(("zh",), "warm-up-deliver")]  # the plan's locale only, in its own thread
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert priorities == [min(ours + background.NICENESS, 19)]  # below the night's (Linux: per thread)
    assert events == ["evaluate", "warmed", "deliver"]
    assert summary.delivery.messages_sent > 0


def test_the_renderers_are_loaded_after_the_collect_stage_in_their_own_thread(
        night: Callable[..., Any], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    collected, seen = threading.Event(), []
    real_collect, real_prepare = night_module.collect_inbox, files.prepare

    def collect_inbox(*args: Any, **kwargs: Any) -> Any:
        known = real_collect(*args, **kwargs)
        collected.set()
        return known

    def prepare(fmt: str) -> None:
        seen.append((fmt, threading.current_thread().name, collected.is_set()))
        real_prepare(fmt)

    monkeypatch.setattr(night_module, "collect_inbox", collect_inbox)
    monkeypatch.setattr(files, "prepare", prepare)
    night(DAY)
    # each configured format once, by the report stage's warm-up, after the night's collect stage
    assert sorted(seen) == sorted((fmt, "warm-up-report", True) for fmt in settings.nightly_formats)


def test_a_failed_warm_up_changes_nothing_but_the_time(
        night: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def fails(locales: tuple[str, ...]) -> None:
        raise ImportError("a module went missing")

    monkeypatch.setattr(delivery_processes, "warm_up", fails)
    with caplog.at_level(logging.WARNING, logger=night_module.__name__):
        summary = night(DAY)
    assert "warming up the deliver stage failed" in caplog.text
    assert summary.delivery.messages_sent > 0 and not summary.delivery.errors
    assert not [t for t in threading.enumerate() if t.name.startswith("warm-up-")]


def test_a_delivery_process_warms_up_below_the_nights_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    """A delivery process started ahead imports while the night evaluates: in a thread at a
    lower priority, so evaluation keeps its core; the share itself runs at the usual one."""
    seen: list[int] = []
    monkeypatch.setattr(delivery_processes, "warm_up",
                        lambda: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    warming = threading.Thread(target=delivery_processes._warm_up_yielding)
    warming.start()
    warming.join()
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen == [min(ours + background.NICENESS, 19)]
