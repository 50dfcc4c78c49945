"""The package as a user gets it: a wheel built from the checkout, installed into a fresh
virtual environment outside the checkout, runs the founding plan end to end.

Dependencies are not downloaded again: the fresh environment sees the project's own
.venv site-packages through a `.pth` line (a path line only: the editable install's own
.pth hooks there are not run, so `plan_tracker` can only come from the installed wheel).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv with the wheel installed (no checkout on its path)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"  # build from a copy: the checkout gets no build/ or egg-info
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAN_TRACKER_", "PYTHONPATH"))}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(source)],
         cwd=base, env=env)
    wheel = next((base / "dist").glob("plan_tracker-*.whl"))
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base, env=env)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=base, env=env).stdout.strip())
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
         cwd=base, env=env)
    return venv / "bin"


def test_the_installed_wheel_runs_the_founding_plan_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAN_TRACKER_", "PYTHONPATH"))}
    env["PLAN_TRACKER_DATA_DIR"] = str(tmp_path / "data")
    cli = str(installed / "plan-tracker")

    where = _run([str(installed / "python"), "-c", "import plan_tracker; print(plan_tracker.__file__)"],
                 cwd=tmp_path, env=env).stdout.strip()
    assert where.startswith(str(installed.parent)), where  # the wheel's copy, not the checkout's

    _run([cli, "example", "jingzhou-2018", "--out", "plan"], cwd=tmp_path, env=env)
    plan_file = tmp_path / "plan" / "plans" / "jingzhou-2018.yaml"
    assert (tmp_path / "plan" / "units" / "jingzhou.yaml").is_file()
    assert "$schema=../schema/plan.schema.json" in plan_file.read_text(encoding="utf-8").splitlines()[0]

    applied = _run([cli, "plan", "apply", str(plan_file)], cwd=tmp_path, env=env)
    assert "413" in applied.stdout
    # A Thursday with the first quarter's items falling due: reminders are raised and the
    # file outbox renders them from the packaged templates.
    _run([cli, "nightly", "--plan", "jingzhou-2018", "--as-of", "2018-04-12",
          "--now", "2018-04-12T09:00+08:00"], cwd=tmp_path, env=env)
    messages = list((tmp_path / "data" / "outbox").glob("*.eml"))
    assert messages, "no reminder was written to the outbox"
    assert any("荆州区" in m.read_text(encoding="utf-8", errors="replace") or "Subject" in m.read_text(
        encoding="utf-8", errors="replace") for m in messages)

    report = tmp_path / "report.html"
    _run([cli, "report", "--plan", "jingzhou-2018", "--as-of", "2018-04-12", "--format", "html",
          "--out", str(report)], cwd=tmp_path, env=env)
    html = report.read_text(encoding="utf-8")
    assert "<style>" in html and "荆州区" in html  # the packaged report template and its CSS
