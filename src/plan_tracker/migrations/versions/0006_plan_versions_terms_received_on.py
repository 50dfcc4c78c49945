"""the record: effective-dated plan versions, obligation term history, report receipt dates

- `plan_version.effective_from` and `plan_version.spec`: each version is in force from its
  effective date. Existing stores: every existing version is taken as in force from the
  plan's start with the current spec (the plan as it stands is version 1 of the record).
- `plan.terms_settled_from`: the latest date from which an obligation's terms changed.
- `obligation.terms_from` and the `obligation_term` table: superseded terms of obligations.
- `status_report.received_on`: the date the store received a report; existing reports are
  taken as received on the date they claim.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 07:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_version") as batch:
        batch.add_column(sa.Column("effective_from", sa.Date(), nullable=True))
        batch.add_column(sa.Column("spec", sa.JSON(), nullable=True))
    op.execute("UPDATE plan_version SET effective_from = (SELECT p.start FROM plan p WHERE p.id = plan_version.plan_id)")
    op.execute("UPDATE plan_version SET spec = (SELECT p.spec FROM plan p WHERE p.id = plan_version.plan_id)")
    with op.batch_alter_table("plan_version") as batch:
        batch.alter_column("effective_from", existing_type=sa.Date(), nullable=False)
        batch.alter_column("spec", existing_type=sa.JSON(), nullable=False)

    with op.batch_alter_table("plan") as batch:
        batch.add_column(sa.Column("terms_settled_from", sa.Date(), nullable=True))
    with op.batch_alter_table("obligation") as batch:
        batch.add_column(sa.Column("terms_from", sa.Date(), nullable=True))

    op.create_table(
        "obligation_term",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("obligation_id", sa.Integer(), sa.ForeignKey("obligation.id"), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("task_id", sa.String(length=128), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("original_due", sa.Date(), nullable=False),
        sa.Column("warn_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_obligation_term_plan", "obligation_term", ["plan_id", "valid_until"])
    op.create_index("ix_obligation_term_obligation", "obligation_term", ["obligation_id", "valid_until"])

    with op.batch_alter_table("status_report") as batch:
        batch.add_column(sa.Column("received_on", sa.Date(), nullable=True))
    op.execute("UPDATE status_report SET received_on = reported_on")
    with op.batch_alter_table("status_report") as batch:
        batch.alter_column("received_on", existing_type=sa.Date(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("status_report") as batch:
        batch.drop_column("received_on")
    op.drop_index("ix_obligation_term_obligation", table_name="obligation_term")
    op.drop_index("ix_obligation_term_plan", table_name="obligation_term")
    op.drop_table("obligation_term")
    with op.batch_alter_table("obligation") as batch:
        batch.drop_column("terms_from")
    with op.batch_alter_table("plan") as batch:
        batch.drop_column("terms_settled_from")
    with op.batch_alter_table("plan_version") as batch:
        batch.drop_column("spec")
        batch.drop_column("effective_from")
