"""The label index: which entries carry a label, as bitmaps over seqs.

Row (dataset, label, chunk) holds a little-endian bitmap whose bit `seq % CHUNK_BITS` is set when
entry `seq` (of chunk `seq // CHUNK_BITS`) carries the label; a chunk with no bit set has no row.

Why bitmaps and not one (dataset, label, seq) row per labeled entry: a change replacing entries
all over a large dataset adds and removes labels at random seqs, and each such row sat on its own
b-tree page. A 5 MiB change into 1,000,000 entries dirtied ~14,000 pages of that index (more
than the entries themselves) and its commit wrote them all. Here the same change rewrites at most
one ~512-byte row per (label, chunk): ~1,300 pages, and a CreateDataset writes one row per
(label, chunk) instead of one per labeled entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection

from manifestdb.store.sql import adapt, raw_rows

CHUNK_BITS = 4096  # a chunk's bitmap is at most 512 bytes: it stays on its b-tree page
SHIFT = CHUNK_BITS.bit_length() - 1
LOW = CHUNK_BITS - 1
CHUNK_BYTES = CHUNK_BITS // 8
IN_LIST = 500  # chunks read per statement

_UPSERT = (
    "INSERT INTO label_chunks (dataset_id, label, chunk, bits) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (dataset_id, label, chunk) DO UPDATE SET bits = excluded.bits"
)
_DELETE = "DELETE FROM label_chunks WHERE dataset_id = ? AND label = ? AND chunk = ?"
_UPSERT_FROM_ARRAYS = (
    "INSERT INTO label_chunks (dataset_id, label, chunk, bits) "
    "SELECT ?, * FROM unnest(?::text[], ?::bigint[], ?::bytea[]) "
    "ON CONFLICT (dataset_id, label, chunk) DO UPDATE SET bits = excluded.bits"
)
_DELETE_FROM_ARRAYS = (
    "DELETE FROM label_chunks WHERE dataset_id = ? "
    "AND (label, chunk) IN (SELECT * FROM unnest(?::text[], ?::bigint[]))"
)


def chunk_of(seq: int) -> int:
    return seq >> SHIFT


def bit_positions(value: int) -> Iterator[int]:
    """The positions of the set bits of a bitmap, in increasing order."""
    text = format(value, "b")[::-1]
    at = text.find("1")
    while at >= 0:
        yield at
        at = text.find("1", at + 1)


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as one list per column (PostgreSQL takes them as arrays)."""
    return [list(column) for column in zip(*rows, strict=True)]


def _stored_form(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "little")


class LabelBits:
    """The label index changes of one write, merged into the stored bitmaps by `flush`.

    Bits to set and to clear are gathered per (label, chunk) in byte arrays (in place: no
    integer is rebuilt per entry) and each touched row is read and rewritten once.
    """

    def __init__(self, conn: Connection, dialect: str, dataset_id: int) -> None:
        self.conn = conn
        self.dialect = dialect
        self.dataset_id = dataset_id
        self._set: dict[str, dict[int, bytearray]] = {}
        self._clear: dict[str, dict[int, bytearray]] = {}

    def add(self, labels: Iterable[str], seq: int) -> None:
        """Entry `seq` carries `labels`."""
        self._mark(self._set, self._clear, labels, seq)

    def remove(self, labels: Iterable[str], seq: int) -> None:
        """Entry `seq` no longer carries `labels`."""
        self._mark(self._clear, self._set, labels, seq)

    @staticmethod
    def _mark(
        into: dict[str, dict[int, bytearray]],
        undo: dict[str, dict[int, bytearray]],
        labels: Iterable[str],
        seq: int,
    ) -> None:
        """Record bit `seq` in `into` for each label, and take it out of `undo` (the last call
        wins). The hot loop of a change: ~40,000 calls for 8,500 lines."""
        chunk, byte, mask = seq >> SHIFT, (seq & LOW) >> 3, 1 << (seq & 7)
        for label in labels:
            chunks = into.get(label)
            if chunks is None:
                chunks = into[label] = {}
            bits = chunks.get(chunk)
            if bits is None:
                bits = chunks[chunk] = bytearray(CHUNK_BYTES)
            bits[byte] |= mask
            other = undo.get(label)
            if other is not None and chunk in other:
                other[chunk][byte] &= ~mask

    def flush(self) -> None:
        """Merge the gathered bits into the stored bitmaps (read, combine, write back)."""
        upserts: list[tuple[int, str, int, bytes]] = []
        deletes: list[tuple[int, str, int]] = []
        for label in self._set.keys() | self._clear.keys():
            set_chunks = self._set.get(label, {})
            clear_chunks = self._clear.get(label, {})
            chunks = sorted(set_chunks.keys() | clear_chunks.keys())
            stored = self._stored(label, chunks)
            for chunk in chunks:
                old = stored.get(chunk, 0)
                new = old
                if chunk in clear_chunks:
                    # old & ~clear, without a negative (two's complement) 4,096-bit integer
                    new ^= new & int.from_bytes(clear_chunks[chunk], "little")
                if chunk in set_chunks:
                    new |= int.from_bytes(set_chunks[chunk], "little")
                if new == old:
                    continue
                if new:
                    upserts.append((self.dataset_id, label, chunk, _stored_form(new)))
                else:
                    deletes.append((self.dataset_id, label, chunk))
        if self.dialect == "postgresql":
            # One statement each over arrays: PostgreSQL would parse and plan every row's.
            if deletes:
                self.conn.exec_driver_sql(
                    adapt(_DELETE_FROM_ARRAYS, self.dialect),
                    (self.dataset_id, *_columns(deletes)[1:]),
                )
            if upserts:
                self.conn.exec_driver_sql(
                    adapt(_UPSERT_FROM_ARRAYS, self.dialect),
                    (self.dataset_id, *_columns(upserts)[1:]),
                )
        else:
            if deletes:
                self.conn.exec_driver_sql(_DELETE, deletes)
            if upserts:
                self.conn.exec_driver_sql(_UPSERT, upserts)
        self._set.clear()
        self._clear.clear()

    def _stored(self, label: str, chunks: Sequence[int]) -> dict[int, int]:
        """The stored bitmaps of `label` for these chunks, as integers."""
        stored: dict[int, int] = {}
        for start in range(0, len(chunks), IN_LIST):
            part = chunks[start : start + IN_LIST]
            marks = ", ".join("?" for _ in part)
            rows = raw_rows(
                self.conn,
                "SELECT chunk, bits FROM label_chunks WHERE dataset_id = ? AND label = ? "
                f"AND chunk IN ({marks})",
                (self.dataset_id, label, *part),
            )
            stored.update((chunk, int.from_bytes(bits, "little")) for chunk, bits in rows)
        return stored
