"""Portal sessions on both backends (services/sessions.py): random ids stored hashed, ended
at logout, token revocation, the unit leaving the plan and expiry; never trusted from the
future."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, text
from tests.web.conftest import PLAN_ID, SECRET

from plan_tracker.services import sessions
from plan_tracker.services.plans import apply_plan
from plan_tracker.services.tokens import Principal, authenticate, create_token, revoke_token

NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def principal(engine: Engine, unit: str = "town-a") -> tuple[str, Principal]:
    token = create_token(engine, secret_key=SECRET, plan_id=PLAN_ID, unit_id=unit, now=NOW).token
    return token, authenticate(engine, token, secret_key=SECRET, now=NOW)


def test_a_session_lives_until_expiry_and_is_stored_only_as_a_hash(applied: Engine) -> None:
    _, who = principal(applied)
    sid = sessions.start_session(applied, who, now=NOW, max_age_s=12 * 3600)
    assert sessions.session_principal(applied, sid, now=NOW + 11 * HOUR) == who
    assert sessions.session_principal(applied, sid, now=NOW + 12 * HOUR) is None  # expired
    assert sessions.session_principal(applied, sid + "x", now=NOW) is None
    with applied.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT digest FROM portal_session"))]
    assert sid not in stored and sessions.session_digest(sid) in stored


def test_logout_revocation_and_leaving_the_plan_each_end_a_session(applied: Engine, plan_file: Path) -> None:
    _, who = principal(applied)
    out = sessions.start_session(applied, who, now=NOW, max_age_s=3600)
    assert sessions.end_session(applied, out, now=NOW) and not sessions.end_session(applied, out, now=NOW)
    assert sessions.session_principal(applied, out, now=NOW) is None

    token, who = principal(applied)
    revoked = sessions.start_session(applied, who, now=NOW, max_age_s=3600)
    revoke_token(applied, token.split("_")[1], now=NOW)
    assert sessions.session_principal(applied, revoked, now=NOW) is None

    _, who_b = principal(applied, "town-b")
    leaving = sessions.start_session(applied, who_b, now=NOW, max_age_s=3600)
    assert sessions.session_principal(applied, leaving, now=NOW) is not None
    smaller = plan_file.with_name("without-town-b.yaml")
    smaller.write_text(plan_file.read_text(encoding="utf-8")
                       .replace("  - {id: town-b, name: 乙镇, groups: [towns], contact: {name: 钱七, email: town-b@example.org}}\n", ""),
                       encoding="utf-8")
    apply_plan(applied, smaller)
    assert sessions.session_principal(applied, leaving, now=NOW) is None


def test_a_session_issued_in_the_future_is_refused(applied: Engine) -> None:
    _, who = principal(applied)
    # a clock stepped back: the row says it was issued two hours from now
    sid = sessions.start_session(applied, who, now=NOW + 2 * HOUR, max_age_s=12 * 3600)
    assert sessions.session_principal(applied, sid, now=NOW) is None
    assert sessions.session_principal(applied, sid, now=NOW + 2 * HOUR - dt.timedelta(seconds=30)) == who  # skew


def test_two_logins_in_one_second_get_different_sessions(applied: Engine) -> None:
    _, who = principal(applied)
    assert len({sessions.start_session(applied, who, now=NOW, max_age_s=60) for _ in range(5)}) == 5
