"""Label bitmaps of 65,536 seqs instead of 4,096, in a rowid table.

Revision ID: 0006
Revises: 0005

A large change touches nearly every (label, chunk) row of the index, and each row has a price
of its own: 16 times fewer rows for the same bytes take about half the time (see
`manifestdb.store.label_bits` and docs/benchmarks.md). An 8 KiB row no longer fits a
WITHOUT ROWID b-tree's cell (~1 KB before it overflows), so on SQLite the table becomes a rowid
table, its key a unique index; on PostgreSQL the bitmaps are stored out of line uncompressed
(`STORAGE EXTERNAL`: compressing them cost time and saved little). The bitmaps are regrouped
in place, and split again on a downgrade.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

# The chunk sizes before and after this revision; changing them again needs a migration.
OLD_BITS = 4096
NEW_BITS = 65536
BATCH = 500

Row = tuple[int, str, int, bytes]


def upgrade() -> None:
    _rebuild(OLD_BITS, NEW_BITS, rowid=True)


def downgrade() -> None:
    _rebuild(NEW_BITS, OLD_BITS, rowid=False)


def _rebuild(old_bits: int, new_bits: int, *, rowid: bool) -> None:
    """Move the bitmaps of `old_bits`-seq chunks into a new `label_chunks` of `new_bits`."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.rename_table("label_chunks", "label_chunks_old")
    if postgresql:  # the new table's key takes the old one's name
        op.execute("ALTER INDEX label_chunks_pkey RENAME TO label_chunks_old_pkey")
    op.create_table(
        "label_chunks",
        sa.Column("dataset_id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(255, collation="C" if postgresql else None), primary_key=True),
        sa.Column("chunk", sa.BigInteger if postgresql else sa.Integer, primary_key=True),
        sa.Column("bits", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=rowid,
    )
    if postgresql:
        storage = "EXTERNAL" if new_bits > OLD_BITS else "EXTENDED"
        op.execute(f"ALTER TABLE label_chunks ALTER COLUMN bits SET STORAGE {storage}")
    old = op.get_bind().execute(
        sa.text(
            "SELECT dataset_id, label, chunk, bits FROM label_chunks_old "
            "ORDER BY dataset_id, label, chunk"
        )
    )
    table = sa.table(
        "label_chunks",
        sa.column("dataset_id"),
        sa.column("label"),
        sa.column("chunk"),
        sa.column("bits", sa.LargeBinary),
    )
    batch: list[dict[str, object]] = []
    rows = ((d, label, chunk, bytes(bits)) for d, label, chunk, bits in old)
    for dataset_id, label, chunk, bits in regroup(rows, old_bits, new_bits):
        batch.append({"dataset_id": dataset_id, "label": label, "chunk": chunk, "bits": bits})
        if len(batch) == BATCH:
            op.bulk_insert(table, batch)
            batch = []
    if batch:
        op.bulk_insert(table, batch)
    op.drop_table("label_chunks_old")


def regroup(rows: Iterable[Row], old_bits: int, new_bits: int) -> Iterator[Row]:
    """Bitmap rows of `old_bits`-seq chunks, in key order, as rows of `new_bits`-seq chunks
    (both powers of two), in key order."""
    if new_bits >= old_bits:
        factor = new_bits // old_bits
        key: tuple[int, str, int] | None = None
        value = 0
        for dataset_id, label, chunk, bits in rows:
            here = (dataset_id, label, chunk // factor)
            if here != key:
                if key is not None and value:
                    yield (*key, _stored(value))
                key, value = here, 0
            value |= int.from_bytes(bits, "little") << ((chunk % factor) * old_bits)
        if key is not None and value:
            yield (*key, _stored(value))
        return
    factor = old_bits // new_bits
    mask = (1 << new_bits) - 1
    for dataset_id, label, chunk, bits in rows:
        value = int.from_bytes(bits, "little")
        for part in range(factor):
            piece = (value >> (part * new_bits)) & mask
            if piece:
                yield dataset_id, label, chunk * factor + part, _stored(piece)


def _stored(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "little")
