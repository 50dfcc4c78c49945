"""obligation pages keep room for nightly updates (PostgreSQL fillfactor 80)

A night rewrites the light of every open or changed obligation. With full pages (the
default fillfactor 100) each such update is a non-HOT update: the new tuple lands on
another page and every index of the table gets a new entry. At 1M obligations the nightly
UPDATEs cost ~60 us a row against ~16 us at 100k (BENCHMARKS.md). With 20% of each page
free, the update stays on its page and touches no index (light, overdue_wd and
evaluated_on are in none). Applies to pages written from now on; SQLite has no such knob.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 13:15:00
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE obligation SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE obligation RESET (fillfactor)")
