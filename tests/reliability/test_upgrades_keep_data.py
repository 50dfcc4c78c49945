"""Upgrades keep data: a store created at the first schema revision and filled, then migrated
revision by revision to head, still holds every report and reminder, and the code at head
works on it (re-applying the plan changes nothing; the next night runs).

The rows come from a store built at head by the real services (plan, reports, nights), copied
table by table into the old-revision store as each table comes into existence — the tables of
revision 0001 first, those of 0002 (reminders, deliveries, runs) after upgrading to it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Integer, MetaData, insert, inspect, select, text

from plan_tracker.night import run_nightly
from plan_tracker.reports.build import build_report
from plan_tracker.reports.json_data import report_data
from plan_tracker.services.plans import apply_plan
from plan_tracker.services.reminders import reminder_rows
from plan_tracker.services.status import status_rows
from plan_tracker.services.submissions import Submission, submit
from plan_tracker.settings import Settings
from plan_tracker.store.db import MIGRATIONS, make_engine, migrate

from .conftest import PLAN_ID, PLAN_YAML, Figures, Store, at

REV1_TABLES = ["calendar_day", "event", "plan", "escalation_step", "obligation", "plan_version", "task", "unit",
               "status_report"]
REV2_TABLES = ["channel_state", "daily_figure", "nightly_run", "recipient", "role_recipient", "light_flip", "reminder",
               "delivery"]


def upgrade(engine: Engine, revision: str, *, to: Any = command.upgrade) -> None:
    """Migrate the store to `revision` (down, with `to=command.downgrade`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        to(config, revision)


def copy_tables(source: Engine, target: Engine, tables: list[str]) -> None:
    """Copy the rows of `tables`, in the columns the target's (older) revision has."""
    meta, old = MetaData(), MetaData()
    meta.reflect(source, only=tables)
    old.reflect(target, only=tables)
    with source.connect() as src, target.begin() as dst:
        for name in tables:
            wanted = [c for c in meta.tables[name].columns if c.name in old.tables[name].columns]
            query = select(*wanted)
            if name == "delivery" and "topic" not in old.tables[name].columns:
                # topic rows (the week's report, decisions: 0009) have no reminder; an older store has none
                query = query.where(meta.tables[name].c.reminder_id.is_not(None))
            rows = [dict(r._mapping) for r in src.execute(query)]
            if rows:
                dst.execute(insert(old.tables[name]), rows)
        if target.dialect.name == "postgresql":  # explicit ids: move each sequence past them
            for name in tables:
                id_type = {c["name"]: c["type"] for c in inspect(dst).get_columns(name)}.get("id")
                if isinstance(id_type, Integer):
                    dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"))


def columns_of(engine: Engine, tables: list[str]) -> dict[str, list[str]]:
    return {t: [c["name"] for c in inspect(engine).get_columns(t)] for t in tables}


def rows_of(engine: Engine, tables: list[str], columns: dict[str, list[str]] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of `tables` (in `columns`, by table, if given: those an older revision had)."""
    found = {}
    with engine.connect() as conn:
        for t in tables:
            names = ", ".join(f'"{c}"' for c in columns[t]) if columns else "*"
            older = columns is not None and t == "delivery" and "topic" not in columns[t]
            where = " WHERE reminder_id IS NOT NULL" if older else ""  # topic rows came with 0009
            found[t] = sorted((tuple(r) for r in conn.execute(text(f'SELECT {names} FROM "{t}"{where}'))), key=repr)
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_store_from_the_first_revision_keeps_every_report_and_reminder_at_head(
        backend: str, store_factory: Any, tmp_path: Path, figures: Figures) -> None:
    filled = store_factory(backend)  # at head: the source of realistic rows
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_YAML, encoding="utf-8")
    apply_plan(filled.engine, plan)
    settings = Settings(data_dir=tmp_path / "var")
    for day in (dt.date(2018, 9, 28), dt.date(2018, 10, 9)):
        run_nightly(filled.engine, PLAN_ID, day, now=at(day), settings=settings)
    for unit in ("t1", "t2", "t3"):
        submit(filled.engine, Submission(PLAN_ID, "s.self-check", unit, "once", "in_progress", dt.date(2018, 10, 10),
                                         progress=60, note="推进中"), today=dt.date(2018, 10, 10), actor=unit)
    run_nightly(filled.engine, PLAN_ID, dt.date(2018, 10, 15), now=at(dt.date(2018, 10, 15)), settings=settings)

    old = _empty_store(backend, tmp_path, store_factory)
    upgrade(old, "0001")
    copy_tables(filled.engine, old, REV1_TABLES)
    upgrade(old, "0002")
    copy_tables(filled.engine, old, REV2_TABLES)
    old_columns = columns_of(old, REV1_TABLES + REV2_TABLES)
    before = rows_of(old, REV1_TABLES + REV2_TABLES)
    migrate(old)  # to head, as any command does on first use
    after = rows_of(old, REV1_TABLES + REV2_TABLES, old_columns)
    with old.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("status_report", "reminder", "delivery")}
    figures.record(f"upgrade_keeps_data_{backend}", from_revision="0001", to_revision=version, **counts,
                   tables_equal=sum(before[t] == after[t] for t in before), tables=len(before))
    assert after == before and after == rows_of(filled.engine, REV1_TABLES + REV2_TABLES, old_columns)
    assert counts["status_report"] == 3 and counts["reminder"] > 0
    # The code at head works on the upgraded store.
    assert not apply_plan(old, plan).changed
    run_nightly(old, PLAN_ID, dt.date(2018, 10, 16), now=at(dt.date(2018, 10, 16)), settings=settings)
    submit(old, Submission(PLAN_ID, "s.self-check", "t4", "once", "done", dt.date(2018, 10, 16)),
           today=dt.date(2018, 10, 16), actor="t4")
    old.dispose()


def _skipped_steps(engine: Engine) -> list[dict[str, Any]]:
    """A store's skipped steps, with their plan: the rows a store before 0013 kept as reminders."""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(
            "SELECT o.plan_id, k.obligation_id, k.level, k.position, k.seq, k.scheduled_on, k.fired_on "
            "FROM skipped_step k JOIN obligation o ON o.id = k.obligation_id ORDER BY k.obligation_id, k.position"))]


def _skipped_as_reminders(engine: Engine, skipped: list[dict[str, Any]]) -> None:
    """Write skipped steps as the code before migration 0013 recorded them: reminder rows."""
    if not skipped:
        return
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO reminder (plan_id, obligation_id, level, position, seq, scheduled_on, "
                          "fired_on, overdue_wd, state, created_at) VALUES (:plan_id, :obligation_id, :level, "
                          ":position, :seq, :scheduled_on, :fired_on, 3, 'skipped', '2018-10-15 01:00:00')"), skipped)


def _empty_store(backend: str, tmp_path: Path, store_factory: Any) -> Engine:
    if backend == "sqlite":
        return make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    store: Store = store_factory("postgresql")
    store.engine.dispose()
    with store.admin.connect() as conn:  # start over from an empty database, not a migrated one
        name = f"{store.name}_old"
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        store.clones.append(name)
    return make_engine(store._pg_url(name))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_store_from_the_previous_head_gets_its_record_dates_and_one_version_in_force_from_the_start(
        backend: str, store_factory: Any, tmp_path: Path) -> None:
    """Migration 0006 (the record): every existing report is taken as received on the date it
    claims, and the plan as it stands is in force from its start, so the status and the
    report of every earlier date are what they were."""
    filled = store_factory(backend)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_YAML, encoding="utf-8")
    apply_plan(filled.engine, plan)
    settings = Settings(data_dir=tmp_path / "var")
    for unit, day in (("t1", dt.date(2018, 10, 8)), ("t2", dt.date(2018, 10, 12))):
        submit(filled.engine, Submission(PLAN_ID, "s.self-check", unit, "once", "done", day),
               today=day, actor=unit)
    run_nightly(filled.engine, PLAN_ID, dt.date(2018, 10, 15), now=at(dt.date(2018, 10, 15)), settings=settings)
    tables = REV1_TABLES + REV2_TABLES
    old = _empty_store(backend, tmp_path, store_factory)
    upgrade(old, "0005")
    copy_tables(filled.engine, old, tables)
    _skipped_as_reminders(old, _skipped_steps(filled.engine))
    migrate(old)
    with old.connect() as conn:
        reports = conn.execute(text("SELECT reported_on, received_on FROM status_report")).all()
        versions = conn.execute(text("SELECT version, effective_from FROM plan_version")).all()
        settled = conn.execute(text("SELECT terms_settled_from FROM plan")).scalar_one()
    assert reports and all(str(received) == str(claimed) for claimed, received in reports)
    assert [(v, str(e)) for v, e in versions] == [(1, "2018-01-01")] and settled is None
    for day in (dt.date(2018, 10, 9), dt.date(2018, 10, 12), dt.date(2018, 12, 31)):
        assert status_rows(old, PLAN_ID, day) == status_rows(filled.engine, PLAN_ID, day)
        assert report_data(build_report(old, PLAN_ID, day)) == report_data(build_report(filled.engine, PLAN_ID, day))
    old.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_store_from_the_previous_head_keeps_its_skipped_steps_apart_and_unchanged(
        backend: str, store_factory: Any, tmp_path: Path) -> None:
    """Migration 0013: the skipped reminders of a store written before it move to
    `skipped_step`, and every reader shows the record as it was; the next night does not
    fire what was skipped; a downgrade puts them back as reminders."""
    filled = store_factory(backend)  # at head: the nights' record, skipped steps apart
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_YAML, encoding="utf-8")
    apply_plan(filled.engine, plan)
    settings = Settings(data_dir=tmp_path / "var")
    for day in (dt.date(2018, 9, 28), dt.date(2018, 10, 15)):  # the second, after a gap: steps skipped
        run_nightly(filled.engine, PLAN_ID, day, now=at(day), settings=settings)
    skipped = _skipped_steps(filled.engine)
    assert skipped, "the nights must have skipped steps for this test to mean anything"

    old = _empty_store(backend, tmp_path, store_factory)
    upgrade(old, "0012")
    every = MetaData()
    every.reflect(old)  # ordered by the old store's keys (light flips had one to obligations until 0017)
    copy_tables(filled.engine, old, [t.name for t in every.sorted_tables  # parents first
                                     if t.name not in ("skipped_step", "alembic_version")])
    _skipped_as_reminders(old, skipped)
    migrate(old)

    with old.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM reminder WHERE state = 'skipped'")).scalar_one()
        moved = conn.execute(text("SELECT count(*) FROM skipped_step")).scalar_one()
    assert left == 0 and moved == len(skipped)
    for day in (dt.date(2018, 9, 28), dt.date(2018, 10, 15)):
        assert reminder_rows(old, PLAN_ID, day) == reminder_rows(filled.engine, PLAN_ID, day)
        assert report_data(build_report(old, PLAN_ID, day)) == report_data(build_report(filled.engine, PLAN_ID, day))
    assert {r.state for r in reminder_rows(old, PLAN_ID)} >= {"skipped", "sent"}

    # The next night is the same on both: nothing skipped fires now.
    night = dt.date(2018, 10, 16)
    for engine in (filled.engine, old):
        run_nightly(engine, PLAN_ID, night, now=at(night), settings=Settings(data_dir=tmp_path / f"var-{id(engine)}"))
    assert reminder_rows(old, PLAN_ID) == reminder_rows(filled.engine, PLAN_ID)

    upgrade(old, "0012", to=command.downgrade)  # and back: the skipped steps are reminder rows again
    with old.connect() as conn:
        back = conn.execute(text("SELECT count(*) FROM reminder WHERE state = 'skipped'")).scalar_one()
        tables = set(inspect(conn).get_table_names())
    assert back == len(skipped) and "skipped_step" not in tables
    old.dispose()
