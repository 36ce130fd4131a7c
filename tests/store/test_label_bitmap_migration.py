"""Revision 0004 turns the rows of `entry_labels` into bitmaps, and back on a downgrade."""

from __future__ import annotations

import orjson
from migration_support import alembic, label_seqs
from sqlalchemy import Engine, text

CHUNK_BITS = 4096  # the chunk of revision 0004 (0006 regroups them: test_label_chunk_migration)

# (dataset, seq) -> {label: boxes}: seqs on both sides of chunk edges, two datasets.
ENTRIES = {
    (1, 1): {"cat": 0},
    (1, CHUNK_BITS - 1): {"cat": 2, "dog": 1},
    (1, CHUNK_BITS): {"dog": 0},
    (1, 3 * CHUNK_BITS + 5): {"cat": 0, "rare": 0},
    (1, 3 * CHUNK_BITS + 6): {},
    (2, 7): {"cat": 1},
}


def test_upgrade_carries_the_label_rows_over_and_downgrade_restores_them(engine: Engine) -> None:
    alembic(engine, "0003")
    expected = {
        (dataset_id, label, seq)
        for (dataset_id, seq), labels in ENTRIES.items()
        for label in labels
    }
    with engine.begin() as connection:
        for (dataset_id, seq), labels in ENTRIES.items():
            connection.execute(
                text(
                    "INSERT INTO entries (seq, dataset_id, source_ref, bucket, line, labels, "
                    "is_labeled, has_errors) VALUES (:seq, :d, :ref, 'b', '{}', :labels, "
                    ":labeled, false)"
                ),
                {
                    "seq": seq,
                    "d": dataset_id,
                    "ref": f"s3://b/{seq}.jpg",
                    "labels": orjson.dumps(labels).decode(),
                    "labeled": bool(labels),
                },
            )
            for label, boxes in labels.items():
                connection.execute(
                    text("INSERT INTO entry_labels VALUES (:d, :label, :seq, :boxes)"),
                    {"d": dataset_id, "label": label, "seq": seq, "boxes": boxes},
                )

    alembic(engine, "0004")
    assert label_seqs(engine, CHUNK_BITS) == expected
    with engine.connect() as connection:
        chunks = connection.execute(
            text("SELECT chunk FROM label_chunks WHERE dataset_id = 1 AND label = 'dog'")
        )
        assert sorted(row[0] for row in chunks) == [0, 1]  # seqs 4095 and 4096

    alembic(engine, "0003", down=True)
    with engine.connect() as connection:
        restored = {
            (dataset_id, label, seq, boxes)
            for dataset_id, label, seq, boxes in connection.execute(
                text("SELECT dataset_id, label, seq, box_count FROM entry_labels")
            )
        }
    assert restored == {
        (dataset_id, label, seq, boxes)
        for (dataset_id, seq), labels in ENTRIES.items()
        for label, boxes in labels.items()
    }
