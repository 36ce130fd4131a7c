"""The first schema: projects, datasets, entries with their label index, jobs, reports.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("arn", sa.String(2048), nullable=False, unique=True),
        sa.Column("feature", sa.String(32), nullable=False),
        sa.Column("auto_update", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("account", "region", "name", name="uq_projects_name"),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("account", sa.String(12), nullable=False),
        sa.Column("arn", sa.String(2048), nullable=False, unique=True),
        sa.Column("dataset_type", sa.String(8), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text, nullable=False),
        sa.Column("status_message_code", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        *(
            sa.Column(name, sa.Integer, nullable=False, server_default=sa.text("0"))
            for name in ("total_entries", "labeled_entries", "error_entries", "total_labels")
        ),
        sa.UniqueConstraint("project_id", "dataset_type", name="uq_datasets_type"),
    )
    op.create_table(
        "entries",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("dataset_id", sa.Integer, nullable=False),
        sa.Column("source_ref", sa.Text, nullable=False),
        sa.Column("bucket", sa.Text, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("is_labeled", sa.Boolean, nullable=False),
        sa.Column("has_errors", sa.Boolean, nullable=False),
        sa.UniqueConstraint("dataset_id", "source_ref", name="uq_entries_source_ref"),
    )
    op.create_index("ix_entries_dataset_seq", "entries", ["dataset_id", "seq"])
    op.create_index(
        "ix_entries_unlabeled",
        "entries",
        ["dataset_id", "seq"],
        sqlite_where=sa.text("is_labeled = 0"),
        postgresql_where=sa.text("NOT is_labeled"),
    )
    op.create_index(
        "ix_entries_errors",
        "entries",
        ["dataset_id", "seq"],
        sqlite_where=sa.text("has_errors = 1"),
        postgresql_where=sa.text("has_errors"),
    )
    op.create_table(
        "entry_labels",
        sa.Column("dataset_id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(255), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("box_count", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "labels",
        sa.Column("dataset_id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(255), primary_key=True),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sa.Column("box_entry_count", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "buckets",
        sa.Column("dataset_id", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.Text, primary_key=True),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset_id", sa.Integer),
        sa.Column("project_id", sa.Integer),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_at", sa.Float),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_jobs_state", "jobs", ["state", "id"])
    op.create_table(
        "update_reports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset_id", sa.Integer, nullable=False),
        sa.Column("job_id", sa.Integer),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    op.create_index("ix_update_reports_dataset", "update_reports", ["dataset_id", "id"])
    if op.get_bind().dialect.name == "sqlite":
        from manifestdb.store.schema import SQLITE_FTS_DDL

        op.execute(SQLITE_FTS_DDL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE entries_fts")
    for table in (
        "update_reports",
        "jobs",
        "buckets",
        "labels",
        "entry_labels",
        "entries",
        "datasets",
        "projects",
        "meta",
    ):
        op.drop_table(table)
