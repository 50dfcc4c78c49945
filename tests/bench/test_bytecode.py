"""The benches time the product as an installed wheel runs it: with its bytecode written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bench.bytecode import compile_package

import plan_tracker


def test_the_package_is_compiled_before_a_bench_times_it() -> None:
    package = Path(plan_tracker.__file__).parent
    module = package / "wording.py"
    cached = Path(importlib.util.cache_from_source(str(module)))
    cached.unlink(missing_ok=True)  # as on a machine with PYTHONDONTWRITEBYTECODE=1 and an editable install
    compile_package()
    assert cached.exists()
    assert all(Path(importlib.util.cache_from_source(str(source))).exists() for source in package.rglob("*.py"))
