"""status_report: partial indexes for the coordinator's two queues

- `ix_report_done_received`: done reports by arrival, (received_at, id). The review queue
  (`services.portal.report_list(awaiting_review=True)`: done reports that are their
  obligation's latest and have no review, oldest first) was read by joining every
  obligation of the plan to its reports, then sorting every match to keep the first few:
  1.2-1.6 s at 1M obligations with 750,000 done reports on SQLite, for the coordinator's
  nightly decisions (twice a night) and each view of the review page. A large plan's queue
  now walks this index in order and stops once the page is full.
- `ix_report_blocked`: blocked reports by date, (reported_on, obligation_id). The paused
  items (`services.blocked.blocked_items`: latest report blocked, no resume since) were found
  the same way, reading every report of the plan to find the few blocked ones (1.0-1.5 s at 1M);
  they are now read from the blocked reports, which are few in any store.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 20:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_DONE = sa.text("status = 'done'")
_BLOCKED = sa.text("status = 'blocked'")


def upgrade() -> None:
    op.create_index("ix_report_done_received", "status_report", ["received_at", "id"],
                    sqlite_where=_DONE, postgresql_where=_DONE)
    op.create_index("ix_report_blocked", "status_report", ["reported_on", "obligation_id"],
                    sqlite_where=_BLOCKED, postgresql_where=_BLOCKED)


def downgrade() -> None:
    op.drop_index("ix_report_blocked", table_name="status_report")
    op.drop_index("ix_report_done_received", table_name="status_report")
