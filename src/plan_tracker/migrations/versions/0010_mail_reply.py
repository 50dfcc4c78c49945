"""mail_reply: the mailbox ledger of `mail fetch` and the outbox of its receipts

One row per handled e-mail, unique by the SHA-256 of the raw message (a second fetch changes
nothing), carrying the receipt sent back to the unit and its delivery state. A frozen
message (0009) keeps its Reply-To and its attachments (the unit's pre-filled form) in
`delivery_attachment`, so a resend carries the very same workbook.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:40:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivery_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_to', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
    op.create_table('delivery_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('mime_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['delivery_message.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delivery_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attachment_message_id'), ['message_id'], unique=False)
    op.create_table('mail_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('plan_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('sender', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('unit_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('receipt_subject', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('receipt_text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('claim', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('claimed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('receipt', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('digest', name='uq_mail_reply_digest')
    )
    with op.batch_alter_table('mail_reply', schema=None) as batch_op:
        batch_op.create_index('ix_mail_reply_state', ['state', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mail_reply', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_reply_state')
    op.drop_table('mail_reply')
    with op.batch_alter_table('delivery_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_attachment_message_id'))
    op.drop_table('delivery_attachment')
    with op.batch_alter_table('delivery_message', schema=None) as batch_op:
        batch_op.drop_column('reply_to')
