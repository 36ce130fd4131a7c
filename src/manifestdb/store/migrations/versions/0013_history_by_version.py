"""entry_history keyed by version first: one index instead of two (issue 18's update cost).

Revision ID: 0013
Revises: 0012

Every read of the before-images asks for a range of versions of one dataset (then, at times,
some of its source-refs), so the unique key (dataset_id, version, source_ref) serves them all
and the (dataset_id, version) index goes. A change's rows then go in at the end of the one
index, in order, instead of at random places in two: ~35 % less time writing them in a SQLite
micro-benchmark (docs/benchmarks.md; the full suite's figure is within its noise). The key
holds the same rule as before: a version keeps one before-image per source-ref.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"


def _key(columns: list[str]) -> None:
    # SQLite cannot drop a table's constraint: batch mode rebuilds the table (rows copied).
    with op.batch_alter_table("entry_history", recreate="auto") as batch:
        batch.drop_constraint("uq_entry_history", type_="unique")
        batch.create_unique_constraint("uq_entry_history", columns)


def upgrade() -> None:
    op.drop_index("ix_entry_history_version", "entry_history")
    _key(["dataset_id", "version", "source_ref"])


def downgrade() -> None:
    _key(["dataset_id", "source_ref", "version"])
    op.create_index("ix_entry_history_version", "entry_history", ["dataset_id", "version"])
