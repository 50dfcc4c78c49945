"""delivery: the indexes of columns most rows leave empty hold only the rows that fill them

A night's deliveries are nearly all a reminder's, inserted with no topic, no claim and no
frozen message; a row gets its claim and its message as it is sent. Three of the table's
seven indexes had an entry for every row all the same:

- `uq_delivery_topic` (plan_id, recipient_key, topic) guards one row per recipient and topic
  (the week's report, the decisions digest); rows without a topic never collide (NULLs are
  distinct), so the unique index holds the topic rows alone (`WHERE topic IS NOT NULL`);
- `ix_delivery_claim_token` (claim) and `ix_delivery_message` (message_id) are read by a claim
  token and by a message id, never for an empty one.

Each row inserted writes three index entries fewer, and on PostgreSQL, where an update that
cannot stay on its page writes an entry in every index, the claim update two fewer and the
frozen message's one fewer. A province's first night, the statements' time summed over the
night, alternately (7 pairs on SQLite, 3 on PostgreSQL): SQLite, the deliveries' insert median
361 -> 315 ms, the claims' updates 169 -> 145 ms, the frozen messages' 121 -> 73 ms;
PostgreSQL, the insert 1,260-1,318 -> 1,010-1,143 ms, every update of delivery 1,133-1,502 ->
888-1,008 ms.

SQLite cannot drop a table's constraint: the table is copied without it (Alembic's batch
mode), rows, keys and the other indexes kept; 0.8 s for a store of 58,500 deliveries here.
PostgreSQL drops and builds the indexes in place.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 02:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_PARTIAL = {  # index -> (columns, the rows it holds)
    "ix_delivery_claim_token": (["claim"], sa.text("claim IS NOT NULL")),
    "ix_delivery_message": (["message_id"], sa.text("message_id IS NOT NULL")),
}
_TOPIC_COLUMNS = ["plan_id", "recipient_key", "topic"]
_HAS_TOPIC = sa.text("topic IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch_op:  # SQLite: the table is copied without it
        batch_op.drop_constraint("uq_delivery_topic", type_="unique")
    op.create_index("uq_delivery_topic", "delivery", _TOPIC_COLUMNS, unique=True,
                    sqlite_where=_HAS_TOPIC, postgresql_where=_HAS_TOPIC)
    for name, (columns, where) in _PARTIAL.items():
        op.drop_index(name, table_name="delivery")
        op.create_index(name, "delivery", columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, (columns, _) in _PARTIAL.items():
        op.drop_index(name, table_name="delivery")
        op.create_index(name, "delivery", columns)
    op.drop_index("uq_delivery_topic", table_name="delivery")
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.create_unique_constraint("uq_delivery_topic", _TOPIC_COLUMNS)
