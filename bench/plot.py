"""`make bench-plot`: time versus obligations on log-log axes, from the bench's results.

    python -m bench.plot [--results var/bench/results.json] [--out docs/bench-growth.svg]

Reads the rows `python -m bench` merged into the results file (`make bench` for 1k-100k,
`make bench-full` for 1M), draws apply, evaluate, report and the hand-tuned limit against
the number of obligations for each backend, and prints the growth exponent of evaluate and
report: the slope of log(time) against log(obligations) from 10k to 1M (1 is linear, 2 is
quadratic). On log-log axes a straight line is a power law; its steepness is that exponent.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

PLOTTED = ("apply", "evaluate", "report", "limit")
SLOPED = ("evaluate", "report")
BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
SLOPE_FROM, SLOPE_TO = 10_000, 1_000_000
STEP_COLOURS = {"apply": "#1f77b4", "evaluate": "#d62728", "report": "#2ca02c", "limit": "#7f7f7f"}

Series = dict[tuple[str, str], list[tuple[int, float]]]


def series(rows: list[dict[str, Any]], steps: tuple[str, ...] = PLOTTED) -> Series:
    """(step, backend) -> [(obligations, seconds)] sorted by size, from the bench's rows.
    Rows without a numeric size (the founding plan's night) or without seconds (a failed
    step) are left out."""
    found: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for row in rows:
        size, seconds = row.get("size"), row.get("seconds")
        if row.get("step") in steps and isinstance(size, int) and isinstance(seconds, int | float) and seconds > 0:
            found[(row["step"], str(row.get("backend")))][size] = float(seconds)
    return {key: sorted(points.items()) for key, points in sorted(found.items())}


def growth_exponent(points: list[tuple[int, float]], low: int = SLOPE_FROM, high: int = SLOPE_TO) -> float | None:
    """The least-squares slope of log(seconds) against log(size) over the points with
    low <= size <= high; None with fewer than two distinct sizes there."""
    chosen = [(math.log(size), math.log(seconds)) for size, seconds in points if low <= size <= high]
    if len({x for x, _ in chosen}) < 2:
        return None
    mean_x = sum(x for x, _ in chosen) / len(chosen)
    mean_y = sum(y for _, y in chosen) / len(chosen)
    spread = sum((x - mean_x) ** 2 for x, _ in chosen)
    return sum((x - mean_x) * (y - mean_y) for x, y in chosen) / spread


def chart_svg(data: Series, title: str) -> str:
    """The log-log chart as a standalone SVG document (no scripts, no dated comment, so a
    re-run on the same figures writes the same file)."""
    import pygal
    from pygal.etree import etree
    from pygal.style import Style

    sizes = sorted({size for points in data.values() for size, _ in points})
    ticks = _ticks([seconds for points in data.values() for _, seconds in points])
    keys = list(data)
    chart = pygal.XY(
        logarithmic=True, title=title, x_title="obligations (log)", y_title="seconds (log)",
        js=[], dots_size=3, legend_at_bottom=True, legend_at_bottom_columns=3, width=900, height=600,
        x_labels=sizes or None, x_labels_major=sizes or None, y_labels=ticks, y_labels_major=ticks,
        margin_right=40, margin_bottom=40,
        x_value_formatter=lambda v: f"{v:,.0f}", value_formatter=lambda v: f"{v:.3g} s",
        truncate_legend=-1,
        style=Style(background="#ffffff", plot_background="#ffffff",
                    colors=tuple(STEP_COLOURS.get(step, "#555555") for step, _ in keys)),
    )
    for step, backend in keys:
        dashed = backend == "postgresql"  # SQLite solid, PostgreSQL dashed, one colour a step
        chart.add(f"{step} ({BACKEND_NAMES.get(backend, backend)})", data[(step, backend)],
                  stroke_style={"width": 2.5, "dasharray": "7, 4"} if dashed else {"width": 2.5})
    chart.uuid = "bench-growth"
    tree = chart.render_tree()
    parents = {child: parent for parent in tree.iter() for child in parent}
    for element in list(tree.iter()):
        tag = element.tag
        if tag is etree.Comment or (isinstance(tag, str) and tag.rsplit("}", 1)[-1] == "script"):
            parents[element].remove(element)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + str(etree.tostring(tree, encoding="unicode")) + "\n"


def _ticks(values: list[float]) -> list[float]:
    """1-2-5 ticks spanning the values (pygal's own log ticks label only a few)."""
    if not values:
        return []
    low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    found = [m * 10.0 ** e for e in range(low, high + 1) for m in (1, 2, 5)]
    return [round(t, 6) for t in found if min(values) / 2 <= t <= max(values) * 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("var/bench/results.json"))
    parser.add_argument("--out", type=Path, default=Path("docs/bench-growth.svg"))
    args = parser.parse_args()
    if not args.results.exists():
        raise SystemExit(f"{args.results} not found: run `make bench` (and `make bench-full` for 1M) first")
    rows = json.loads(args.results.read_text())
    data = series(rows)
    if not data:
        raise SystemExit(f"{args.results} has no timed apply/evaluate/report/limit rows")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(chart_svg(data, "time versus obligations (log-log)"), encoding="utf-8")
    print(f"wrote {args.out} from {args.results}")
    print(f"growth exponent (slope of log time vs log obligations, {SLOPE_FROM:,}-{SLOPE_TO:,}):")
    for (step, backend), points in data.items():
        if step not in SLOPED:
            continue
        exponent = growth_exponent(points)
        used = [size for size, _ in points if SLOPE_FROM <= size <= SLOPE_TO]
        shown = "n/a (fewer than two sizes)" if exponent is None else f"{exponent:.2f}"
        print(f"  {step:8} {BACKEND_NAMES.get(backend, backend):10} {shown}  (sizes: {', '.join(f'{s:,}' for s in used)})")


if __name__ == "__main__":
    main()
