"""skipped_step: skipped ladder steps kept apart from the reminders

A step recorded as skipped (due on a night when a higher step fired, or before the plan's
escalation began) is for the audit trail, never a message. As a `reminder` row it carried an
id, the plan, a delivery state, a clock and two indexes: a province's first night wrote
185,500 of them, a quarter of SQLite's evaluation. They now live in a narrow table keyed by
the step (obligation, level, seq), `WITHOUT ROWID` on SQLite; the existing skipped reminders
move there unchanged (their date, schedule and rank), and readers see them as before, with
state `skipped`. A skipped reminder never has a delivery; one that had would stay a reminder,
so nothing is lost.

No foreign key to `obligation`: a row is only ever written by the evaluation, from the
obligations it is evaluating, in the same transaction, and obligations are never deleted.
The check per row was the insert's largest cost on PostgreSQL (a key-share lock on the
obligation for each of a first night's 185,500 rows: 1.4–1.9 s of the workers' time against
0.7–0.9 s without) and 2 % of SQLite's evaluation.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 17:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_SKIPPED_REMINDERS = """FROM reminder WHERE state = 'skipped'
  AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.reminder_id = reminder.id)"""


def upgrade() -> None:
    op.create_table(
        "skipped_step",
        sa.Column("obligation_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("scheduled_on", sa.Date(), nullable=False),
        sa.Column("fired_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("obligation_id", "level", "seq"),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO skipped_step (obligation_id, level, seq, position, scheduled_on, fired_on) "
               f"SELECT obligation_id, level, seq, position, scheduled_on, fired_on {_SKIPPED_REMINDERS}")
    op.execute(f"DELETE {_SKIPPED_REMINDERS}")


def downgrade() -> None:
    op.execute("INSERT INTO reminder (plan_id, obligation_id, level, position, seq, scheduled_on, fired_on, "
               "overdue_wd, state, created_at) "
               "SELECT o.plan_id, k.obligation_id, k.level, k.position, k.seq, k.scheduled_on, k.fired_on, 0, "
               "'skipped', CURRENT_TIMESTAMP FROM skipped_step k JOIN obligation o ON o.id = k.obligation_id "
               "ORDER BY k.fired_on, k.obligation_id, k.position, k.seq")
    op.drop_table("skipped_step")
