"""The label index: which entries carry a label, as bitmaps over seqs.

Row (dataset, label, chunk) holds a little-endian bitmap whose bit `seq % CHUNK_BITS` is set when
entry `seq` (of chunk `seq // CHUNK_BITS`) carries the label; a chunk with no bit set has no row.

Why bitmaps and not one (dataset, label, seq) row per labeled entry: a change replacing entries
all over a large dataset adds and removes labels at random seqs, and each such row sat on its own
b-tree page. A large change dirtied more pages of that index than of the entries themselves,
and its commit wrote them all. Here a change reads and rewrites each
touched (label, chunk) row once, and a CreateDataset writes one row per (label, chunk).

Why chunks of 65,536 seqs (8 KiB): such a change touches nearly every chunk of every common
label, so what it costs is the bytes of the index (~6 MB for 1,000,000 entries and 50 labels)
plus a price per row, so fewer, longer rows cost less (rows of 4,096 seqs took about twice as
long: docs/benchmarks.md). A row that long spills into overflow pages, and SQLite rewrites
only the pages whose bytes changed when a row keeps its length, so a change that adds at the end
of a dataset rewrites little more than the pages of its last chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Connection

from manifestdb.store.sql import raw_rows, run_many

CHUNK_BITS = 65536  # a chunk's bitmap is at most 8 KiB
SHIFT = CHUNK_BITS.bit_length() - 1
LOW = CHUNK_BITS - 1
CHUNK_BYTES = CHUNK_BITS // 8
IN_LIST = 500  # chunks read per statement
WINDOW = 4096  # bits turned into text at a time by `bit_positions`

_UPSERT = (
    "INSERT INTO label_chunks (dataset_id, label, chunk, bits) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (dataset_id, label, chunk) DO UPDATE SET bits = excluded.bits"
)
_DELETE = "DELETE FROM label_chunks WHERE dataset_id = ? AND label = ? AND chunk = ?"


def chunk_of(seq: int) -> int:
    return seq >> SHIFT


def bit_positions(value: int, start: int = 0) -> Iterator[int]:
    """The positions of the set bits of a bitmap from `start` on, in increasing order.

    A window of bits at a time: a page of a common label needs the first few hundred positions
    of a 65,536-bit chunk, not all of it in text."""
    value >>= start
    base = start
    mask = (1 << WINDOW) - 1
    while value:
        window = value & mask
        if window:
            text = format(window, "b")[::-1]
            at = text.find("1")
            while at >= 0:
                yield base + at
                at = text.find("1", at + 1)
        value >>= WINDOW
        base += WINDOW


def _stored_form(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "little")


class LabelBits:
    """The label index changes of one write, merged into the stored bitmaps by `flush`.

    Bits to set and to clear are gathered per (label, chunk) in byte arrays (in place: no
    integer is rebuilt per entry) and each touched row is read and rewritten once. Within one
    write an entry's label is either added or removed, never both (a replacement adds the labels
    that came and removes those that went; a removal only removes), so where both were asked,
    which is no caller's case, the addition wins.
    """

    def __init__(self, conn: Connection, dialect: str, dataset_id: int) -> None:
        self.conn = conn
        self.dialect = dialect
        self.dataset_id = dataset_id
        self._set: dict[str, dict[int, bytearray]] = {}
        self._clear: dict[str, dict[int, bytearray]] = {}

    def add(self, labels: Iterable[str], seq: int) -> None:
        """Entry `seq` carries `labels`."""
        self._mark(self._set, labels, seq)

    def remove(self, labels: Iterable[str], seq: int) -> None:
        """Entry `seq` no longer carries `labels`."""
        self._mark(self._clear, labels, seq)

    @staticmethod
    def _mark(into: dict[str, dict[int, bytearray]], labels: Iterable[str], seq: int) -> None:
        """Record bit `seq` in `into` for each label. The hot loop of a change: ~20,000 calls
        for 8,500 lines."""
        chunk, byte, mask = seq >> SHIFT, (seq & LOW) >> 3, 1 << (seq & 7)
        for label in labels:
            chunks = into.get(label)
            if chunks is None:
                chunks = into[label] = {}
            bits = chunks.get(chunk)
            if bits is None:
                bits = chunks[chunk] = bytearray(CHUNK_BYTES)
            bits[byte] |= mask

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
                    # old & ~clear, without a negative (two's complement) 65,536-bit integer
                    new ^= new & int.from_bytes(clear_chunks[chunk], "little")
                if chunk in set_chunks:
                    new |= int.from_bytes(set_chunks[chunk], "little")
                if new == old:
                    continue
                if new:
                    upserts.append((self.dataset_id, label, chunk, _stored_form(new)))
                else:
                    deletes.append((self.dataset_id, label, chunk))
        # A statement per row, pipelined by psycopg on PostgreSQL: with rows of 8 KiB, one
        # statement over arrays was several times slower there.
        if deletes:
            run_many(self.conn, _DELETE, deletes)
        if upserts:
            run_many(self.conn, _UPSERT, upserts)
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
                binary=True,
            )
            stored.update((chunk, int.from_bytes(bits, "little")) for chunk, bits in rows)
        return stored
