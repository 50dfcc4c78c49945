"""The benches time the product as an installed wheel runs it: with its bytecode written."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

import plan_tracker

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_is_compiled_before_a_bench_times_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is a folder beside the package, not installed
    bytecode = importlib.import_module("bench.bytecode")
    package = Path(plan_tracker.__file__).parent
    module = package / "wording.py"
    cached = Path(importlib.util.cache_from_source(str(module)))
    cached.unlink(missing_ok=True)  # as on a machine with PYTHONDONTWRITEBYTECODE=1 and an editable install
    bytecode.compile_package()
    assert cached.exists()
    assert all(Path(importlib.util.cache_from_source(str(source))).exists() for source in package.rglob("*.py"))
