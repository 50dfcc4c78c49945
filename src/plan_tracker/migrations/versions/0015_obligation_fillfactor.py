"""obligation (PostgreSQL): half of each page free, so a first night updates every light in place

A plan's first night gives every obligation its light: one UPDATE of every row. With a fifth
of each page free (fillfactor 80, migration 0005) a page has room for new versions of a
fifth of its rows; the others go to other pages, each with an entry in all four of the
table's indexes (77 % of a province's first night). With half of each page free every new
version stays beside the old one (a HOT update: no index touched; the old one is pruned
later). A province's first-night evaluation on PostgreSQL: 3.94-4.06 s -> 3.54-3.60 s
(whole night 7.85-7.98 -> 7.10-7.59 s, alternately); at 1M the first night 25-27 s -> 17.8 s
and the steady night 7.4-7.7 -> 6.8 s, the apply unchanged. The table is larger before its first
night (2,757 pages against 1,700 for 102,000 obligations) and smaller after it (2,993 against
4,044: the moved versions had grown it). Pages written from now on keep the room; a store's
existing pages keep theirs until rewritten (`VACUUM FULL obligation`). SQLite has no such
setting.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 00:40:00
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

FILLFACTOR = 50


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE obligation SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE obligation RESET (fillfactor)")
