"""The label index becomes bitmaps: `label_chunks` replaces `entry_labels`.

Revision ID: 0004
Revises: 0003

One (dataset, label, seq) row per labeled entry made a change that replaces entries all over a
large dataset dirty a page of the index for nearly every label it added or removed. A row per
(dataset, label, chunk of 4,096 seqs) holding a bitmap is rewritten once per change instead (see
`manifestdb.store.label_bits`). The rows of `entry_labels` are carried over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

# The chunk size of this revision's bitmaps; changing it later needs a migration of its own.
CHUNK_BITS = 4096
SHIFT = 12
BATCH = 1000


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "label_chunks",
        sa.Column("dataset_id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(255, collation="C" if postgresql else None), primary_key=True),
        sa.Column("chunk", sa.BigInteger if postgresql else sa.Integer, primary_key=True),
        sa.Column("bits", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    chunks = sa.table(
        "label_chunks",
        sa.column("dataset_id"),
        sa.column("label"),
        sa.column("chunk"),
        sa.column("bits", sa.LargeBinary),
    )
    batch: list[dict[str, object]] = []
    for row in _bitmaps():
        batch.append(row)
        if len(batch) == BATCH:
            op.bulk_insert(chunks, batch)
            batch = []
    if batch:
        op.bulk_insert(chunks, batch)
    op.drop_table("entry_labels")


def _bitmaps() -> Iterator[dict[str, object]]:
    """The bitmaps of `entry_labels`, one (dataset, label, chunk) at a time."""
    rows = op.get_bind().execute(
        sa.text("SELECT dataset_id, label, seq FROM entry_labels ORDER BY dataset_id, label, seq")
    )
    key: tuple[int, str, int] | None = None
    value = 0
    for dataset_id, label, seq in rows:
        here = (dataset_id, label, seq >> SHIFT)
        if here != key:
            if key is not None:
                yield _row(key, value)
            key, value = here, 0
        value |= 1 << (seq & (CHUNK_BITS - 1))
    if key is not None:
        yield _row(key, value)


def _row(key: tuple[int, str, int], value: int) -> dict[str, object]:
    dataset_id, label, chunk = key
    bits = value.to_bytes((value.bit_length() + 7) // 8, "little")
    return {"dataset_id": dataset_id, "label": label, "chunk": chunk, "bits": bits}


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "entry_labels",
        sa.Column("dataset_id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(255, collation="C" if postgresql else None), primary_key=True),
        sa.Column("seq", sa.BigInteger if postgresql else sa.Integer, primary_key=True),
        sa.Column("box_count", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    # Box counts per entry are not kept by the bitmaps: they come back from the entries' own
    # label counts (the `labels` JSON column).
    entries = op.get_bind().execute(sa.text("SELECT dataset_id, seq, labels FROM entries"))
    table = sa.table(
        "entry_labels",
        sa.column("dataset_id"),
        sa.column("label"),
        sa.column("seq"),
        sa.column("box_count"),
    )
    batch: list[dict[str, object]] = []
    for dataset_id, seq, labels in entries:
        for label, boxes in json.loads(labels).items():
            batch.append({"dataset_id": dataset_id, "label": label, "seq": seq, "box_count": boxes})
        if len(batch) >= BATCH:
            op.bulk_insert(table, batch)
            batch = []
    if batch:
        op.bulk_insert(table, batch)
    op.drop_table("label_chunks")
