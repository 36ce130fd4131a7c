"""Models: project_versions (one row per CreateProjectVersion) and their trained artifacts.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.create_table(
        "project_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("arn", sa.String(2048), nullable=False, unique=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("training_end", sa.Float),
        sa.Column("billable_seconds", sa.Integer),
        sa.Column("output_bucket", sa.String(255), nullable=False),
        sa.Column("output_prefix", sa.String(1024), nullable=False),
        sa.Column("kms_key_id", sa.String(2048)),
        sa.Column("description", sa.Text),
        sa.Column("min_units", sa.Integer),
        sa.Column("max_units", sa.Integer),
        sa.Column("details", sa.Text, nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_project_versions_name"),
    )
    op.create_table(
        "model_artifacts",
        sa.Column("version_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("artifact", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_artifacts")
    op.drop_table("project_versions")
