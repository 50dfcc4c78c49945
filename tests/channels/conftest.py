"""Channel-test fixtures: a sample message and a fake clock. The real SMTP and HTTP
servers live in the root conftest, shared with the nightly-delivery tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from plan_tracker.channels import Message

# --------------------------------------------------------------------------- helpers


@pytest.fixture
def message() -> Message:
    return Message(
        recipient_name="张三",
        address="zhangsan@example.org",
        subject="【催办】对执法队伍进行轮训（2018-Q1）已逾期 2 个工作日",
        text="张三同志：\n\n贵单位承担的“对执法队伍进行轮训”（2018年第一季度）已逾期，请尽快反馈。\n\n区政府法制办",
        message_key="jingzhou-2018/capability.training/town-a/2018-Q1/urge/0",
    )


class FakeClock:
    """Time that only moves when someone sleeps (or a test advances it)."""

    def __init__(self, start: float = 1_514_764_800.0) -> None:  # 2018-01-01T00:00:00Z
        self.now = start
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


