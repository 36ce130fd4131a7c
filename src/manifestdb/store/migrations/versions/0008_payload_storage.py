"""PostgreSQL: job payloads are stored out of line uncompressed (STORAGE EXTERNAL).

Revision ID: 0008
Revises: 0007

A payload is written once by UpdateDatasetEntries and read once by the job that applies it,
then deleted. Compressing it with pglz was about half of the time it took to store it, for a
copy that lives only until its job runs. It applies to payloads written from now on. SQLite does not
compress: nothing to do there.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE job_payloads ALTER COLUMN payload SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE job_payloads ALTER COLUMN payload SET STORAGE EXTENDED")
