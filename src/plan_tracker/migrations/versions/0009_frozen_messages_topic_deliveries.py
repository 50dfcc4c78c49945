"""frozen_messages: delivery rows not tied to a reminder, frozen message content, fault kind

- `delivery.reminder_id` becomes nullable: the weekly report and the coordinator's decisions
  digest are delivery rows too (`topic` names them, e.g. `weekly:2018-W42`, `raised_on` the
  night that raised them), so they are claimed, sent, recorded and retried like reminders;
- `delivery_message` keeps a message as first rendered (key, subject, text, HTML, the night
  it speaks for); its deliveries point at it, so a resend is byte-identical;
- `delivery.fault` says why a delivery failed or died (channel | refused | exhausted), so
  `doctor` can name the right fix.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:40:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delivery_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('recipient_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('message_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('html', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.alter_column('reminder_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('raised_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('message_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('fault', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True))
        batch_op.create_foreign_key('fk_delivery_message', 'delivery_message', ['message_id'], ['id'])
        batch_op.create_unique_constraint('uq_delivery_topic', ['plan_id', 'recipient_key', 'topic'])
        batch_op.create_index('ix_delivery_message', ['message_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_message')
        batch_op.drop_constraint('uq_delivery_topic', type_='unique')
        batch_op.drop_constraint('fk_delivery_message', type_='foreignkey')
        batch_op.drop_column('fault')
        batch_op.drop_column('message_id')
        batch_op.drop_column('raised_on')
        batch_op.drop_column('topic')
    op.execute("DELETE FROM delivery WHERE reminder_id IS NULL")
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.alter_column('reminder_id', existing_type=sa.Integer(), nullable=False)
    op.drop_table('delivery_message')
