"""delivery_message.claim: a frozen message names the claim it was frozen for

A delivery row was written three times on its way out: claimed, pointed at its frozen
message, recorded sent. The pointer now goes with the record (or the failure, or the
release of rows not tried), and the frozen message keeps the claim token it was rendered
for, so rows left `sending` by a crash between the freeze and the record are found to be
that message's by their token (`services.delivery.claim_batch` writes their pointer before
claiming them again). On PostgreSQL every write of a row is a new version through the
table's indexes; a province's first night spent 0.37 s of its two delivery processes'
statements on the pointers alone.

Messages frozen before this migration keep no claim: their rows already point at them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 11:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_HAS_CLAIM = sa.text("claim IS NOT NULL")


def upgrade() -> None:
    op.add_column("delivery_message", sa.Column("claim", sa.String(length=40), nullable=True))
    op.create_index("ix_delivery_message_claim", "delivery_message", ["claim"],
                    sqlite_where=_HAS_CLAIM, postgresql_where=_HAS_CLAIM)


def downgrade() -> None:
    op.drop_index("ix_delivery_message_claim", table_name="delivery_message")
    if op.get_bind().dialect.name == "sqlite":
        # in place (SQLite 3.35 on): a batch's copy would drop a table that deliveries point at
        op.execute("ALTER TABLE delivery_message DROP COLUMN claim")
    else:
        op.drop_column("delivery_message", "claim")
