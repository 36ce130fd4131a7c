"""Job payloads move to their own table, so that claiming or renewing a job does not copy them.

Revision ID: 0005
Revises: 0004

SQLite rewrites a whole row, overflow pages included, on any UPDATE: with the 5 MiB change in
`jobs.payload`, claiming a job and renewing its lease each wrote 5 MiB to the WAL, on the
update's critical path. PostgreSQL's TOAST already spared that; one layout serves both.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "job_payloads",
        sa.Column("job_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.execute(
        "INSERT INTO job_payloads (job_id, payload) "
        "SELECT id, payload FROM jobs WHERE payload IS NOT NULL"
    )
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("payload")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("payload", sa.LargeBinary))
    op.execute(
        "UPDATE jobs SET payload = "
        "(SELECT payload FROM job_payloads WHERE job_payloads.job_id = jobs.id)"
    )
    op.drop_table("job_payloads")
