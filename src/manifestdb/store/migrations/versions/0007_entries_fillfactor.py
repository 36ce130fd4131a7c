"""PostgreSQL: `entries` leaves 15% of each page free, so replacing a line is a HOT update.

Revision ID: 0007
Revises: 0006

A line replaced in place (same seq, same source-ref) changes no indexed column, but PostgreSQL
can keep the new row version on the same page, without new entries in any index (the trigram
index adds ~50 a row), only where that page has room. Pages filled to the brim by a create left
none, and a change's UPDATE took over twice as long as with room on the pages (most updates
then HOT; docs/benchmarks.md). The setting applies to pages written from now
on; `VACUUM FULL entries` rewrites the existing ones with it (docs/deploy.md). SQLite has no
such setting: nothing to do there.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"

FILLFACTOR = 85


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE entries SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE entries RESET (fillfactor)")
