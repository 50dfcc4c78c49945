"""light_flip: no foreign key to `obligation`, as `skipped_step` (migration 0013)

A light flip is only ever written by the evaluation (`RECORD_FLIPS`), from the obligations
it is evaluating, joined in the same statement and transaction, and obligations are never
deleted (a plan's later version retires them: `active`). The key-share check per row was
a large part of a first night's cost on PostgreSQL, where every obligation gets its first
light and so a flip: at a province 102,000 checks, 0.39 s of the connections' time
(`auto_explain`), the evaluation 2.74-3.12 s -> 2.58-2.89 s with two connections,
alternately; at 1M ten times as many. On SQLite the flips' insert of that night took 89 ms
with the check and 66 ms without.

SQLite cannot drop a table's constraint: the table is copied without it (Alembic's batch
mode; its constraint has no name there, so the batch names it to drop it), rows and the
index kept. PostgreSQL drops the constraint in place.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 05:00:00
"""
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

POSTGRESQL_NAME = "light_flip_obligation_id_fkey"  # PostgreSQL's name for migration 0002's constraint
_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s"}  # names SQLite's unnamed constraint in the batch
SQLITE_NAME = "fk_light_flip_obligation_id"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("light_flip", naming_convention=_NAMING) as batch_op:
            batch_op.drop_constraint(SQLITE_NAME, type_="foreignkey")
    else:
        op.drop_constraint(POSTGRESQL_NAME, "light_flip", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("light_flip") as batch_op:
            batch_op.create_foreign_key(SQLITE_NAME, "obligation", ["obligation_id"], ["id"])
    else:
        op.create_foreign_key(POSTGRESQL_NAME, "light_flip", "obligation", ["obligation_id"], ["id"])
