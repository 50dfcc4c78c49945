"""delivery: a recipient's sent rows indexed by when they went

`ix_delivery_recipient` (plan_id, recipient_key, state) gains sent_at. The leading group's
digest looks up the previous message to the same recipient ("since the previous digest"):
the latest sent row, then that message's rows. With only (plan_id, recipient_key, state)
both read every row ever sent to the recipient, and a province's leading group is sent
hundreds of thousands of rows a week. The longer index serves the old prefix's queries too.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 22:50:00
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_delivery_recipient", table_name="delivery")
    op.create_index("ix_delivery_recipient", "delivery", ["plan_id", "recipient_key", "state", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_recipient", table_name="delivery")
    op.create_index("ix_delivery_recipient", "delivery", ["plan_id", "recipient_key", "state"])
