"""delivery index by recipient: claiming one recipient's rows must not scan the outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:05:00
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.create_index("ix_delivery_recipient", ["plan_id", "recipient_key", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.drop_index("ix_delivery_recipient")
