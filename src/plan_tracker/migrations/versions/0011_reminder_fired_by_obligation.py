"""reminder: the night's reminders indexed by obligation id too

`ix_reminder_plan_fired` (plan_id, fired_on) gains obligation_id. Every evaluation batch reads
the reminders fired tonight for its own obligation range (`obligation_id BETWEEN :lo AND
:hi`); with only (plan_id, fired_on) SQLite walked every reminder fired tonight, so each batch
of a first night cost more than the one before (1M: 19 batches of up to 3.4 s in the
unreachable-recipient statement alone). The longer index serves the old prefix's queries too.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:40:00
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_reminder_plan_fired", table_name="reminder")
    op.create_index("ix_reminder_plan_fired", "reminder", ["plan_id", "fired_on", "obligation_id"])


def downgrade() -> None:
    op.drop_index("ix_reminder_plan_fired", table_name="reminder")
    op.create_index("ix_reminder_plan_fired", "reminder", ["plan_id", "fired_on"])
