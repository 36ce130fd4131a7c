"""PostgreSQL: the trigram index's pending list holds a whole change; payloads compressed by lz4.

Revision ID: 0009
Revises: 0008

- `ix_entries_source_ref_trgm` takes new source-refs into a pending list (fastupdate) that the
  job runner merges after each job. At the default limit (4 MB) a 5 MiB change of new lines
  filled it, and the statement that filled it merged it on the change's clock. At 16 MB a whole
  change fits, and searches still read at most one job's pending entries (merged after it).
- Job payloads (0008: stored as they are, because pglz was slow) are compressed with lz4 where
  the server was built with it: faster than storing them as they are, with less WAL. Servers
  without lz4 keep 0008's setting.

SQLite has neither: nothing to do there.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"

PENDING_LIST_KIB = 16384


def _has_lz4() -> bool:
    values = (
        op.get_bind()
        .execute(text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"))
        .scalar()
    )
    return "lz4" in (values or [])


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"ALTER INDEX ix_entries_source_ref_trgm SET (gin_pending_list_limit = {PENDING_LIST_KIB})"
    )
    if _has_lz4():
        op.execute(
            "ALTER TABLE job_payloads ALTER COLUMN payload SET STORAGE EXTENDED, "
            "ALTER COLUMN payload SET COMPRESSION lz4"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER INDEX ix_entries_source_ref_trgm RESET (gin_pending_list_limit)")
    op.execute(
        "ALTER TABLE job_payloads ALTER COLUMN payload SET STORAGE EXTERNAL, "
        "ALTER COLUMN payload SET COMPRESSION DEFAULT"
    )
