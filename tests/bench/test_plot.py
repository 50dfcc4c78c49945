"""bench.plot: the growth exponent is the slope of log time against log size."""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plot() -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(ROOT))  # bench/ is a folder beside the package, not installed
        yield importlib.import_module("bench.plot")


@pytest.mark.parametrize(("power", "expected"), [(1.0, 1.0), (2.0, 2.0), (0.5, 0.5)])
def test_a_power_law_has_its_power_as_growth_exponent(plot, power, expected):
    points = [(n, 3e-6 * n**power) for n in (1_000, 10_000, 100_000, 1_000_000)]
    assert plot.growth_exponent(points) == pytest.approx(expected)


def test_the_exponent_is_taken_from_10k_to_1m_only(plot):
    # 1k is dominated by fixed costs (start-up); it must not flatten the slope.
    points = [(1_000, 5.0), (10_000, 0.1), (100_000, 1.0), (1_000_000, 10.0)]
    assert plot.growth_exponent(points) == pytest.approx(1.0)


def test_the_exponent_is_the_least_squares_slope_of_uneven_points(plot):
    points = [(10_000, 0.07), (100_000, 0.48), (1_000_000, 6.7)]
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(s) for _, s in points]
    mx, my = sum(xs) / 3, sum(ys) / 3
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    assert plot.growth_exponent(points) == pytest.approx(slope)
    assert 0.9 < slope < 1.1  # evaluation at 2026-11-25's figures: linear


def test_fewer_than_two_sizes_have_no_exponent(plot):
    assert plot.growth_exponent([(1_000_000, 6.7)]) is None
    assert plot.growth_exponent([(1_000, 0.02), (1_000_000, 6.7)], low=10_000) is None


def test_series_keep_timed_rows_of_plotted_steps_by_size(plot):
    rows = [
        {"step": "evaluate", "size": 100_000, "backend": "sqlite", "seconds": 0.48},
        {"step": "evaluate", "size": 10_000, "backend": "sqlite", "seconds": 0.07},
        {"step": "evaluate", "size": 10_000, "backend": "postgresql", "error": ["boom"]},
        {"step": "deliver", "size": 10_000, "backend": "sqlite", "seconds": 3.0},
        {"step": "nightly_cli", "size": "founding", "backend": "sqlite", "seconds": 1.6},
    ]
    assert plot.series(rows) == {("evaluate", "sqlite"): [(10_000, 0.07), (100_000, 0.48)]}


def test_the_chart_is_an_svg_document_without_scripts_and_renders_the_same_twice(plot):
    data = {("evaluate", "sqlite"): [(10_000, 0.07), (100_000, 0.48)],
            ("report", "postgresql"): [(10_000, 0.9), (100_000, 3.0)]}
    svg = plot.chart_svg(data, "time versus obligations")
    assert svg.startswith("<?xml") and "<svg" in svg and "<script" not in svg
    assert "evaluate (SQLite)" in svg and "report (PostgreSQL)" in svg
    assert plot.chart_svg(data, "time versus obligations") == svg
