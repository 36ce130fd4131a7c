"""The label bitmaps under ContainsLabels where chunks meet: entries on both sides of a chunk
edge, labels that stop before it or start after it, and replacements that move bits across it.

The dataset's seqs are placed to straddle the edge (SQLite gives a new entry the largest seq
plus one; PostgreSQL takes it from a sequence), which no API call can ask for; the tests of
`tests/api/test_label_index.py` cover the same filters through the service."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from sqlalchemy import text
from store_support import UPDATE, new_dataset

from manifestdb.manifest import Entry, check_line
from manifestdb.store import EntryFilter, Retention, Store
from manifestdb.store.label_bits import CHUNK_BITS
from support.lines import image_line

COUNT = 6000
FIRST_SEQ = CHUNK_BITS - 2500  # the edge falls after the dataset's 2,500th entry


def _ref(i: int) -> str:
    return f"s3://bucket/img/{i:05d}.jpg"


def _labels_of(i: int) -> tuple[str, ...]:
    labels = []
    if i % 3 == 0:
        labels.append("three")
    if i in (0, 2499, 2500, COUNT - 1) or i % 1000 == 999:
        labels.append("rare")  # the entries on both sides of the edge among them
    if i < 2400:
        labels.append("before")  # ends in the first chunk
    if i >= 2600:
        labels.append("after")  # starts in the second
    return tuple(labels)


def _entries(labels: dict[int, tuple[str, ...]]) -> Iterator[Entry]:
    for number, (i, names) in enumerate(sorted(labels.items()), 1):
        entry = check_line(orjson.dumps(image_line(_ref(i), *names)), number)
        assert isinstance(entry, Entry)
        yield entry


def _write(store: Store, dataset_id: int, labels: dict[int, tuple[str, ...]]) -> None:
    entries = list(_entries(labels))
    with store.write() as tx:
        writer = tx.entry_writer(dataset_id, UPDATE)
        for start in range(0, len(entries), 500):
            writer.upsert(entries[start : start + 500])
        writer.finish()
        writer.close_version({}, Retention())


def _walk(store: Store, dataset_id: int, filters: EntryFilter, page: int = 100) -> list[int]:
    """Every entry a ContainsLabels walk returns, page by page, as indexes."""
    found: list[int] = []
    after = 0
    while True:
        with store.read() as tx:
            result = tx.entry_page(dataset_id, after, page, filters)
        found += [int(orjson.loads(line)["source-ref"][-9:-4]) for line in result.lines]
        if result.last_seq is None:
            return found
        after = result.last_seq


def _with(labels: dict[int, tuple[str, ...]], *wanted: str) -> list[int]:
    return [i for i in sorted(labels) if set(labels[i]) & set(wanted)]


@pytest.fixture
def dataset(store: Store) -> int:
    """An empty dataset whose first entry will get seq FIRST_SEQ."""
    dataset_id = new_dataset(store)
    with store.write() as tx:
        if store.dialect == "postgresql":
            tx.conn.execute(text(f"SELECT setval('entry_seq', {FIRST_SEQ - 1})"))
        else:  # another dataset's entry holds the seq before
            tx.conn.execute(
                text(
                    "INSERT INTO entries (seq, dataset_id, source_ref, bucket, line, labels, "
                    "is_labeled, has_errors) VALUES (:seq, :other, 's3://b/x.jpg', 'b', '{}', "
                    "'{}', 0, 0)"
                ),
                {"seq": FIRST_SEQ - 1, "other": dataset_id + 1},
            )
    return dataset_id


def test_labels_across_a_chunk_edge(store: Store, dataset: int) -> None:
    labels = {i: _labels_of(i) for i in range(COUNT)}
    _write(store, dataset, labels)
    with store.read() as tx:
        chunks = tx.conn.execute(
            text("SELECT label, chunk FROM label_chunks WHERE dataset_id = :d ORDER BY 1, 2"),
            {"d": dataset},
        ).all()
    edge = FIRST_SEQ // CHUNK_BITS + 1
    assert [tuple(row) for row in chunks] == [
        ("after", edge),
        ("before", edge - 1),
        ("rare", edge - 1),
        ("rare", edge),
        ("three", edge - 1),
        ("three", edge),
    ]
    for wanted in (
        ["rare"],
        ["before"],
        ["after"],
        ["before", "after"],
        ["rare", "after"],
        ["three", "before", "rare"],
    ):
        for page in (100, 7, 1):
            if page == 1 and wanted != ["rare"]:
                continue  # a page per entry: only the rare label's few
            assert _walk(store, dataset, EntryFilter(labels=tuple(wanted)), page) == _with(
                labels, *wanted
            ), (wanted, page)
    both = EntryFilter(labels=("rare",), contains="/img/024")
    assert _walk(store, dataset, both) == [2499]


def test_replacements_move_bits_on_both_sides_of_the_edge(store: Store, dataset: int) -> None:
    labels = {i: _labels_of(i) for i in range(COUNT)}
    _write(store, dataset, labels)
    changed: dict[int, tuple[str, ...]] = {}
    for i in range(2300, 2700):  # "before" and "after" trade places around the edge
        changed[i] = ("after",) if i < 2500 else ("before",)
    for i in _with(labels, "rare"):
        changed[i] = ()
    _write(store, dataset, changed)
    labels.update(changed)
    for wanted in (["before"], ["after"], ["three"], ["before", "after"]):
        assert _walk(store, dataset, EntryFilter(labels=tuple(wanted))) == _with(labels, *wanted), (
            wanted
        )
    assert _walk(store, dataset, EntryFilter(labels=("rare",))) == []
    with store.read() as tx:
        rare = tx.conn.execute(
            text("SELECT count(*) FROM label_chunks WHERE dataset_id = :d AND label = 'rare'"),
            {"d": dataset},
        ).scalar()
    assert rare == 0  # a chunk whose last bit went has no row
