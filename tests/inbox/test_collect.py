"""The nightly collect stage ingests the files waiting in the plan's inbox folder."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from sqlalchemy import Engine

from plan_tracker import night as nightly

from .conftest import AS_OF, PLAN_ID, events, fill, reports

CSV = "计划编号,inbox-2018,单位编号,town-b\n任务编号,期间,状态,进度(%)\ncap.training,2018-Q2,推进中,20\n"


def test_the_collect_stage_ingests_every_file_waiting_in_the_plans_inbox(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    folder = inbox / PLAN_ID
    folder.mkdir(parents=True)
    fill(templates["town-a"], folder / "川店镇.xlsx", {("cap.training", "2018-Q2"): {"状态": "推进中", "进度(%)": 50}})
    (folder / "马山镇.csv").write_text(CSV, encoding="utf-8")
    (folder / "broken.xlsx").write_bytes(b"not a workbook")
    (folder / "upload.xlsx.part").write_bytes(b"still being copied")  # left for the next run
    known = nightly.collect_inbox(applied, PLAN_ID, AS_OF, inbox=inbox)
    assert known == 2
    assert sorted((t, u, s, p) for t, u, _, s, p, _, _ in reports(applied)) == [
        ("cap.training", "town-a", "in_progress", 50), ("cap.training", "town-b", "in_progress", 20)]
    assert sorted(p.name for p in folder.iterdir()) == ["processed", "rejected", "upload.xlsx.part"]
    processed = sorted(p.name for p in (folder / "processed").iterdir())
    assert [n for n in processed if n.endswith(".receipt.json")] and len(processed) == 4  # 2 files, 2 receipts
    assert any(p.name.endswith("broken.xlsx.errors.csv") for p in (folder / "rejected").iterdir())
    assert [e["payload"]["via"] for e in events(applied, "inbox.ingested")] == ["nightly", "nightly"]


def test_running_collect_again_or_dropping_a_file_again_changes_nothing(
        applied: Engine, inbox: Path, tmp_path: Path) -> None:
    folder = inbox / PLAN_ID
    folder.mkdir(parents=True)
    (tmp_path / "b.csv").write_text(CSV, encoding="utf-8")
    shutil.copy(tmp_path / "b.csv", folder / "b.csv")
    assert nightly.collect_inbox(applied, PLAN_ID, AS_OF, inbox=inbox) == 1
    logged = len(events(applied))
    assert nightly.collect_inbox(applied, PLAN_ID, AS_OF, inbox=inbox) == 1
    shutil.copy(tmp_path / "b.csv", folder / "b-again.csv")  # the unit sends the same file twice
    assert nightly.collect_inbox(applied, PLAN_ID, AS_OF, inbox=inbox) == 1
    assert len(events(applied)) == logged
    assert len(reports(applied)) == 1
    assert not (folder / "b-again.csv").exists()


def test_collect_reads_the_inbox_folder_from_settings(applied: Engine, cli_env: dict[str, str]) -> None:
    folder = Path(cli_env["PLAN_TRACKER_DATA_DIR"]) / "inbox" / PLAN_ID
    folder.mkdir(parents=True)
    (folder / "b.csv").write_text(CSV, encoding="utf-8")
    assert nightly.collect_inbox(applied, PLAN_ID, AS_OF) == 1
    assert (folder / "processed").is_dir()


def test_collect_without_an_inbox_folder_creates_nothing(applied: Engine, inbox: Path) -> None:
    assert nightly.collect_inbox(applied, PLAN_ID, AS_OF, inbox=inbox) == 0
    assert not inbox.exists()


def test_every_unit_of_the_founding_plan_answers_its_template_and_all_is_collected(
        engine: Engine, founding_plan: Path, inbox: Path) -> None:
    from plan_tracker.inbox.demo import filled_templates
    from plan_tracker.services.plans import apply_plan

    apply_plan(engine, founding_plan)
    day = dt.date(2018, 2, 1)  # early in the year: every unit has a few open obligations
    files = filled_templates(engine, "jingzhou-2018", as_of=day, today=day, out_dir=inbox / "jingzhou-2018")
    assert len(files) > 15
    known = nightly.collect_inbox(engine, "jingzhou-2018", day, inbox=inbox)
    ingested = events(engine, "inbox.ingested")
    assert len(ingested) == len(files)
    assert {e["payload"]["outcome"] for e in ingested} == {"accepted"}
    assert known == sum(e["payload"]["accepted"] for e in ingested) > 30
    assert not (inbox / "jingzhou-2018" / "rejected").exists()
