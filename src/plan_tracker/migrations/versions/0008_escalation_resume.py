"""escalation_resume: the coordinator resumes the escalation of an item reported blocked

A `blocked` report pauses escalation beyond the first step (domain.escalation); a row here,
dated on or after that report, lifts the pause. (Written on the messages branch; after the
rebase on main it follows 0007, the portal sessions and idempotency keys.)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 07:20:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('escalation_resume',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('obligation_id', sa.Integer(), nullable=False),
    sa.Column('resumed_on', sa.Date(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['obligation_id'], ['obligation.id'], ),
    sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('escalation_resume', schema=None) as batch_op:
        batch_op.create_index('ix_resume_obligation', ['obligation_id', 'resumed_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('escalation_resume', schema=None) as batch_op:
        batch_op.drop_index('ix_resume_obligation')
    op.drop_table('escalation_resume')
