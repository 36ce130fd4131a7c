"""EntryWriter replacing entries in several batches of one transaction (on PostgreSQL through a
temporary table reused batch after batch and transaction after transaction), and what a rolled
back write leaves: the lines as they were, and a writer that works on the same connection."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import psycopg
import pytest
from sqlalchemy import text
from store_support import UPDATE, new_dataset

from manifestdb.manifest import Entry, check_line
from manifestdb.store import Retention, Store
from support.lines import image_line

COUNT = 1700  # four batches of the writer


def _entries(version: str, count: int = COUNT) -> Iterator[Entry]:
    for i in range(count):
        line = image_line(f"s3://bucket/img/{i:05d}.jpg", f"label-{version}", f"n{i % 7}")
        entry = check_line(orjson.dumps(line), i + 1)
        assert isinstance(entry, Entry)
        yield entry


def _write(store: Store, dataset_id: int, entries: Iterator[Entry], fail: bool = False) -> None:
    batch = list(entries)
    with store.write() as tx:
        writer = tx.entry_writer(dataset_id, UPDATE)
        for start in range(0, len(batch), 500):
            writer.upsert(batch[start : start + 500])
        writer.finish()
        writer.close_version({}, Retention())
        if fail:
            raise RuntimeError("the job fails after writing")


def _stored(store: Store, dataset_id: int) -> dict[str, set[str]]:
    """Each stored entry's labels, read from its stored line (and its label column agrees)."""
    with store.read() as tx:
        rows = tx.conn.execute(
            text("SELECT source_ref, line, labels FROM entries WHERE dataset_id = :d"),
            {"d": dataset_id},
        )
        stored = {}
        for ref, line, labels in rows:
            names = {
                value["class-name"]
                for key, value in orjson.loads(line).items()
                if key.endswith("-metadata") and "class-name" in value
            }
            assert names == set(orjson.loads(labels)), line
            stored[ref] = names
        return stored


def test_replacements_in_several_batches_and_transactions(store: Store) -> None:
    dataset_id = new_dataset(store)
    _write(store, dataset_id, _entries("a"))
    for version in ("b", "c"):  # the second one reuses the connection's temporary table
        _write(store, dataset_id, _entries(version))
        stored = _stored(store, dataset_id)
        assert len(stored) == COUNT
        assert all(f"label-{version}" in names for names in stored.values()), version
        assert not any("label-a" in names for names in stored.values())
    with store.read() as tx:
        dataset = tx.dataset_by_id(dataset_id)
        labels = {stats.label: stats.entry_count for stats in tx.label_page(dataset_id, None, 50)}
    assert dataset is not None and dataset.total_entries == COUNT
    assert labels["label-c"] == COUNT and "label-a" not in labels and "label-b" not in labels


def test_a_rolled_back_write_leaves_the_lines_and_the_next_write_works(store: Store) -> None:
    dataset_id = new_dataset(store)
    _write(store, dataset_id, _entries("a"))
    with pytest.raises(RuntimeError):
        _write(store, dataset_id, _entries("b"), fail=True)
    stored = _stored(store, dataset_id)
    assert all("label-a" in names and "label-b" not in names for names in stored.values())
    _write(store, dataset_id, _entries("c", 600))
    stored = _stored(store, dataset_id)
    changed = [ref for ref, names in stored.items() if "label-c" in names]
    assert len(changed) == 600 and len(stored) == COUNT


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_replacements_look_rows_up_by_index_not_by_scanning_the_table(store: Store) -> None:
    """The temporary table of replaced rows has no statistics, and its dead rows (emptied
    batch after batch) made it look large: the planner then hashed it and scanned `entries`
    whole for every batch. Each replaced row must be an index lookup, however many batches."""
    dataset_id = new_dataset(store)
    _write(store, dataset_id, _entries("a", 6000))
    batch = list(_entries("b", 6000))
    # The backend's counters (they may still hold earlier transactions' counts, unflushed).
    counters = text(
        "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables "
        "WHERE relname = 'entries'"
    )
    with store.write() as tx:
        before = tx.conn.execute(counters).one()
        writer = tx.entry_writer(dataset_id, UPDATE)
        for start in range(0, len(batch), 500):
            writer.upsert(batch[start : start + 500])
        writer.finish()
        writer.close_version({}, Retention())
        after = tx.conn.execute(counters).one()
    scans, lookups = after[0] - before[0], after[1] - before[1]
    assert scans == 0, f"{scans} scans of the whole table"
    assert lookups >= 6000  # one lookup per replaced row (and per row looked up first)
    assert all("label-b" in names for names in _stored(store, dataset_id).values())


def _seqs(store: Store, dataset_id: int) -> dict[str, int]:
    with store.read() as tx:
        rows = tx.conn.execute(
            text("SELECT source_ref, seq FROM entries WHERE dataset_id = :d"), {"d": dataset_id}
        )
        return {ref: seq for ref, seq in rows}


def test_new_entries_mixed_with_replacements_take_seqs_in_line_order(store: Store) -> None:
    """In a batch that both adds and replaces, the new entries follow the stored ones in the
    order of their lines, and a replaced entry keeps its seq (and so its place in listings)."""
    dataset_id = new_dataset(store)
    _write(store, dataset_id, _entries("a", 900))
    before = _seqs(store, dataset_id)
    # Lines of a later batch: every third one new, in an order unlike the stored one.
    lines = list(_entries("b", 1500))[::-1]
    mixed = [entry for n, entry in enumerate(lines) if n % 3 == 0 or entry.source_ref in before]
    _write(store, dataset_id, iter(mixed))
    after = _seqs(store, dataset_id)
    assert {ref: after[ref] for ref in before} == before
    new = [entry.source_ref for entry in mixed if entry.source_ref not in before]
    assert len(new) == 200
    new_seqs = [after[ref] for ref in new]
    assert new_seqs == sorted(new_seqs) and min(new_seqs) > max(before.values())
    stored = _stored(store, dataset_id)
    assert len(stored) == 1100 and all("label-b" in names for names in stored.values())


def test_an_identical_line_is_counted_as_replaced_but_not_rewritten(store: Store) -> None:
    dataset_id = new_dataset(store)
    _write(store, dataset_id, _entries("a", 800))
    same = list(_entries("a", 800))
    changed = list(_entries("b", 800))
    batch = [same[n] if n % 2 else changed[n] for n in range(800)]
    with store.write() as tx:
        writer = tx.entry_writer(dataset_id, UPDATE)
        writer.upsert(batch[:500])
        writer.upsert(batch[500:])
        result = writer.finish()
        writer.close_version({}, Retention())
    assert (result.added, result.replaced) == (0, 800)
    stored = _stored(store, dataset_id)
    for n, entry in enumerate(batch):
        assert f"label-{'a' if n % 2 else 'b'}" in stored[entry.source_ref]
    with store.read() as tx:
        labels = {stats.label: stats.entry_count for stats in tx.label_page(dataset_id, None, 50)}
    assert labels["label-a"] == 400 and labels["label-b"] == 400


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_identical_lines_leave_their_rows_untouched(store: Store) -> None:
    """PostgreSQL: a row rewritten gets a new row version (a new xmin); an identical line's
    row keeps the version it had."""
    dataset_id = new_dataset(store)
    _write(store, dataset_id, _entries("a", 600))
    versions = text("SELECT source_ref, xmin::text FROM entries WHERE dataset_id = :d")
    with store.read() as tx:
        before = dict(tx.conn.execute(versions, {"d": dataset_id}).all())
    same = list(_entries("a", 600))
    changed = list(_entries("b", 600))
    _write(store, dataset_id, iter(same[:300] + changed[300:]))
    with store.read() as tx:
        after = dict(tx.conn.execute(versions, {"d": dataset_id}).all())
    untouched = {ref for ref in before if after[ref] == before[ref]}
    assert untouched == {entry.source_ref for entry in same[:300]}


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_only_the_bitmap_writes_are_prepared(store: Store) -> None:
    """PostgreSQL: statements are never prepared (generic plans cannot use the trigram index),
    except the label bitmaps' upsert and delete, each run for hundreds of rows at a time and
    prepared once per connection."""
    dataset_id = new_dataset(store)
    prepared = text("SELECT statement FROM pg_prepared_statements ORDER BY statement")
    for version in ("a", "b", "c"):  # b and c replace every label: bitmaps deleted too
        with store.write() as tx:
            writer = tx.entry_writer(dataset_id, UPDATE)
            for start in range(0, COUNT, 500):
                writer.upsert(list(_entries(version))[start : start + 500])
            writer.finish()
            writer.close_version({}, Retention())
            statements = tx.conn.execute(prepared).scalars().all()
        kinds = [statement.split()[0] + " " + statement.split()[2] for statement in statements]
        if version == "a":  # new labels only: nothing to delete yet
            assert kinds == ["INSERT label_chunks"], statements
        else:
            assert kinds == ["DELETE label_chunks", "INSERT label_chunks"], statements
    with store.read() as tx:  # the same pooled connection prepares nothing more
        assert tx.conn.execute(prepared).scalars().all() == statements
        tx.conn.execute(text("SELECT count(*) FROM entries WHERE dataset_id = :d"), {"d": 1})
        assert tx.conn.execute(prepared).scalars().all() == statements


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_without_pipeline_mode_the_statements_go_one_at_a_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A libpq older than 14 has no pipeline mode: the writer then sends the statements around
    a batch's merge one by one, with the same outcome."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("pipeline mode used where libpq has none")

    monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda _cls: False))
    monkeypatch.setattr(psycopg.Connection, "pipeline", refuse)
    dataset_id = new_dataset(store)
    _write(store, dataset_id, _entries("a", 900))
    before = _seqs(store, dataset_id)
    _write(store, dataset_id, _entries("b", 1400))
    after = _seqs(store, dataset_id)
    assert {ref: after[ref] for ref in before} == before
    assert min(after[ref] for ref in after if ref not in before) > max(before.values())
    stored = _stored(store, dataset_id)
    assert len(stored) == 1400 and all("label-b" in names for names in stored.values())
    with store.read() as tx:
        labels = {stats.label: stats.entry_count for stats in tx.label_page(dataset_id, None, 50)}
    assert labels["label-b"] == 1400 and "label-a" not in labels
