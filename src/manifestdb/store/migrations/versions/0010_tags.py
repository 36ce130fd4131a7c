"""Tags of projects and datasets, kept with them (they were accepted and dropped before).

Revision ID: 0010
Revises: 0009

Existing projects and datasets start with no tags: the tags given to them before were not kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("arn", sa.String(2048), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("tags")
