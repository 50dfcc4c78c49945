"""status_report: done reports indexed by arrival, for the coordinator's review queue

The queue (`services.portal.report_list(awaiting_review=True)`: done reports that are their
obligation's latest and have no review, oldest first) was read by joining every obligation
of the plan to its reports, then sorting every match to keep the first few: 1.1–2.3 s at
1M obligations with 750,000 done reports on SQLite, for the coordinator's nightly message
(twice a night) and each view of the review page. A partial index of done reports by
(received_at, id) lets the query walk them in order and stop once the page is full.

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


def upgrade() -> None:
    op.create_index("ix_report_done_received", "status_report", ["received_at", "id"],
                    sqlite_where=_DONE, postgresql_where=_DONE)


def downgrade() -> None:
    op.drop_index("ix_report_done_received", table_name="status_report")
