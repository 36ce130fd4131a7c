"""Dataset history: versions, and the before-images of what each version changed (issue 18).

Revision ID: 0012
Revises: 0011

Existing datasets start their history at their current state: each gets version 0, a
"baseline" holding its stats as they are; what was before it is not known.
"""

from __future__ import annotations

import time

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "dataset_versions",
        sa.Column("dataset_id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("caller", sa.Text, nullable=False),
        sa.Column("job_id", sa.Integer),
        sa.Column("starts_empty", sa.Boolean, nullable=False),
        sa.Column("changed", sa.Integer, nullable=False),
        sa.Column("history_bytes", sa.BigInteger, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "entry_history",
        sa.Column("dataset_id", sa.Integer, nullable=False),
        sa.Column("source_ref", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite")),
        sa.Column("line", sa.Text),
        sa.Column("labels", sa.Text),
        sa.Column("is_labeled", sa.Boolean),
        sa.Column("has_errors", sa.Boolean),
        sa.Column("bucket", sa.Text),
        sa.UniqueConstraint("dataset_id", "source_ref", "version", name="uq_entry_history"),
    )
    op.create_index("ix_entry_history_version", "entry_history", ["dataset_id", "version"])
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT d.id, d.total_entries, d.labeled_entries, d.error_entries, d.total_labels, "
            "d.account FROM datasets d"
        )
    ).all()
    now = time.time()
    versions = sa.table(
        "dataset_versions",
        *(
            sa.column(name)
            for name in (
                "dataset_id",
                "version",
                "kind",
                "created_at",
                "caller",
                "job_id",
                "starts_empty",
                "changed",
                "history_bytes",
                "summary",
            )
        ),
    )
    if rows:
        op.bulk_insert(
            versions,
            [
                {
                    "dataset_id": dataset_id,
                    "version": 0,
                    "kind": "baseline",
                    "created_at": now,
                    "caller": f"arn:aws:iam::{account}:root",
                    "job_id": None,
                    "starts_empty": False,
                    "changed": 0,
                    "history_bytes": 0,
                    "summary": orjson.dumps(
                        {
                            "total_entries": total,
                            "labeled_entries": labeled,
                            "error_entries": errors,
                            "total_labels": labels,
                        }
                    ).decode(),
                }
                for dataset_id, total, labeled, errors, labels, account in rows
            ],
        )


def downgrade() -> None:
    op.drop_index("ix_entry_history_version", "entry_history")
    op.drop_table("entry_history")
    op.drop_table("dataset_versions")
