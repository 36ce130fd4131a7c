"""PostgreSQL: trigram index for SourceRefContains, a sequence for entry seqs, binary label order.

Revision ID: 0002
Revises: 0001

SQLite has these already in its own terms (FTS5 trigram table, one writer assigning seqs, binary
collation), so this revision changes nothing there.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX ix_entries_source_ref_trgm ON entries USING gin (source_ref gin_trgm_ops)"
    )
    # Writers of different datasets run concurrently here: seqs come from a sequence.
    op.execute("CREATE SEQUENCE entry_seq AS bigint")
    op.execute("SELECT setval('entry_seq', COALESCE((SELECT max(seq) FROM entries), 0) + 1, false)")
    op.execute("ALTER TABLE entries ALTER COLUMN seq TYPE bigint")
    op.execute("ALTER TABLE entry_labels ALTER COLUMN seq TYPE bigint")
    # Labels sort by code point, as in SQLite, whatever the database's locale.
    for table in ("labels", "entry_labels"):
        op.execute(f'ALTER TABLE {table} ALTER COLUMN label TYPE varchar(255) COLLATE "C"')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("labels", "entry_labels"):
        op.execute(f"ALTER TABLE {table} ALTER COLUMN label TYPE varchar(255)")
    op.execute("DROP SEQUENCE entry_seq")
    op.execute("DROP INDEX ix_entries_source_ref_trgm")
