"""Revision 0006 regroups the label bitmaps from 4,096 to 65,536 seqs a chunk, and back."""

from __future__ import annotations

import importlib
import random

from migration_support import alembic, label_seqs
from sqlalchemy import Engine, text

from manifestdb.store.label_bits import CHUNK_BITS

revision = importlib.import_module("manifestdb.store.migrations.versions.0006_label_chunks_65536")
OLD_BITS = 4096

# (dataset, label) -> seqs: both sides of old and new chunk edges, an empty old chunk between
# two set ones, a label alone in its new chunk, two datasets.
SEQS = {
    (1, "cat"): [1, OLD_BITS - 1, OLD_BITS, 3 * OLD_BITS + 5, CHUNK_BITS - 1, CHUNK_BITS],
    (1, "dog"): [CHUNK_BITS * 3 + 17],
    (1, "rare"): [0],
    (2, "cat"): [7, 2 * CHUNK_BITS + OLD_BITS * 5 + 1],
}


def _rows(bits_per_chunk: int, seqs: dict[tuple[int, str], list[int]]) -> list[revision.Row]:
    """Bitmap rows of `bits_per_chunk`-seq chunks for `seqs`, in key order."""
    maps: dict[tuple[int, str, int], int] = {}
    for (dataset_id, label), numbers in seqs.items():
        for seq in numbers:
            key = (dataset_id, label, seq // bits_per_chunk)
            maps[key] = maps.get(key, 0) | 1 << (seq % bits_per_chunk)
    return [
        (*key, value.to_bytes((value.bit_length() + 7) // 8, "little"))
        for key, value in sorted(maps.items())
    ]


def _chunks(engine: Engine) -> list[tuple[int, str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT dataset_id, label, chunk FROM label_chunks ORDER BY 1, 2, 3")
        )
        return [tuple(row) for row in rows]


def test_upgrade_regroups_the_bitmaps_and_downgrade_splits_them(engine: Engine) -> None:
    assert CHUNK_BITS == revision.NEW_BITS  # the code reads what the revision writes
    alembic(engine, "0005")
    old_rows = _rows(OLD_BITS, SEQS)
    with engine.begin() as connection:
        for dataset_id, label, chunk, bits in old_rows:
            connection.execute(
                text("INSERT INTO label_chunks VALUES (:d, :label, :chunk, :bits)"),
                {"d": dataset_id, "label": label, "chunk": chunk, "bits": bits},
            )
    expected = {(d, label, seq) for (d, label), seqs in SEQS.items() for seq in seqs}

    alembic(engine, "0006")
    assert label_seqs(engine, CHUNK_BITS) == expected
    assert _chunks(engine) == [
        (1, "cat", 0),
        (1, "cat", 1),
        (1, "dog", 3),
        (1, "rare", 0),
        (2, "cat", 0),
        (2, "cat", 2),
    ]
    with engine.begin() as connection:  # the key is still a key: an upsert finds its row
        connection.execute(
            text(
                "INSERT INTO label_chunks VALUES (1, 'dog', 3, :bits) ON CONFLICT "
                "(dataset_id, label, chunk) DO UPDATE SET bits = excluded.bits"
            ),
            {"bits": b"\x01"},
        )
    expected = (expected - {(1, "dog", CHUNK_BITS * 3 + 17)}) | {(1, "dog", CHUNK_BITS * 3)}
    assert label_seqs(engine, CHUNK_BITS) == expected

    alembic(engine, "0005", down=True)
    assert label_seqs(engine, OLD_BITS) == expected
    assert len(_chunks(engine)) == len(old_rows)  # the emptied old chunk of dog has no row


def test_regroup_round_trips_random_bitmaps() -> None:
    rng = random.Random(6)
    for _ in range(20):
        seqs: dict[tuple[int, str], list[int]] = {}
        for dataset_id in (1, 2):
            for label in ("a", "b", "c"):
                count = rng.choice([0, 1, 30, 3000, 60_000])
                seqs[(dataset_id, label)] = rng.sample(range(4 * CHUNK_BITS), count)
        small, large = _rows(OLD_BITS, seqs), _rows(CHUNK_BITS, seqs)
        assert list(revision.regroup(small, OLD_BITS, CHUNK_BITS)) == large
        assert list(revision.regroup(large, CHUNK_BITS, OLD_BITS)) == small
