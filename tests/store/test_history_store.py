"""History in the store: migration 0012 starts existing datasets at version 0 with their stats,
a writer's before-images roll back with its transaction, and a deleted dataset leaves no history
behind; on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from migration_support import alembic
from sqlalchemy import Engine, inspect, text
from store_support import UPDATE, new_dataset

from manifestdb.manifest import Entry, check_line
from manifestdb.store import Retention, Store
from support.lines import image_line


def _entries(label: str, count: int) -> Iterator[Entry]:
    for i in range(count):
        entry = check_line(orjson.dumps(image_line(f"s3://bkt/{i}.jpg", label)), i + 1)
        assert isinstance(entry, Entry)
        yield entry


def _history_rows(store: Store, dataset_id: int) -> tuple[int, int]:
    with store.read() as tx:
        versions = tx.conn.execute(
            text("SELECT count(*) FROM dataset_versions WHERE dataset_id = :d"), {"d": dataset_id}
        ).scalar_one()
        befores = tx.conn.execute(
            text("SELECT count(*) FROM entry_history WHERE dataset_id = :d"), {"d": dataset_id}
        ).scalar_one()
    return int(versions), int(befores)


def _write(store: Store, dataset_id: int, label: str, count: int, fail: bool = False) -> None:
    with store.write() as tx:
        writer = tx.entry_writer(dataset_id, UPDATE)
        writer.upsert(list(_entries(label, count)))
        writer.finish()
        writer.close_version({}, Retention())
        if fail:
            raise RuntimeError("the job fails after writing")


def test_before_images_commit_and_roll_back_with_the_change(store: Store) -> None:
    dataset_id = new_dataset(store)
    _write(store, dataset_id, "a", 10)  # into an empty dataset: no before-images
    assert _history_rows(store, dataset_id) == (2, 0)
    with pytest.raises(RuntimeError):
        _write(store, dataset_id, "b", 15, fail=True)
    assert _history_rows(store, dataset_id) == (2, 0)
    _write(store, dataset_id, "b", 15)  # 10 replaced, 5 added
    assert _history_rows(store, dataset_id) == (3, 15)
    with store.read() as tx:
        befores = tx.version_befores(dataset_id, 2)
    assert sum(b.line is None for b in befores) == 5
    replaced = [b for b in befores if b.line is not None]
    assert all(b.labels == {"a": 0} for b in replaced) and len(replaced) == 10
    with store.write() as tx:
        tx.delete_dataset_rows(dataset_id)
    assert _history_rows(store, dataset_id) == (0, 0)


def test_migration_0012_starts_history_at_the_current_state(engine: Engine) -> None:
    alembic(engine, "0011")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (id, account, region, name, arn, feature, status, "
                "created_at) VALUES (1, '123456789012', 'us-east-1', 'p', 'arn:p', "
                "'CUSTOM_LABELS', 'CREATED', 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO datasets (id, project_id, account, arn, dataset_type, status, "
                "status_message, status_message_code, created_at, updated_at, total_entries, "
                "labeled_entries, error_entries, total_labels) VALUES (7, 1, '123456789012', "
                "'arn:d', 'TRAIN', 'UPDATE_COMPLETE', '', 'SUCCESS', 0, 0, 40, 30, 2, 5)"
            )
        )
    alembic(engine, "head")
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT version, kind, caller, summary FROM dataset_versions WHERE dataset_id=7")
        ).one()
    assert row[:3] == (0, "baseline", "arn:aws:iam::123456789012:root")
    assert orjson.loads(row[3]) == {
        "total_entries": 40,
        "labeled_entries": 30,
        "error_entries": 2,
        "total_labels": 5,
    }
    alembic(engine, "0011", down=True)
    with engine.connect() as conn:
        tables = {
            name
            for (name,) in conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                    if engine.dialect.name == "sqlite"
                    else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            )
        }
    assert "dataset_versions" not in tables and "entry_history" not in tables


def _history_keys(engine: Engine) -> list[tuple[str, tuple[str, ...]]]:
    """(name, columns) of entry_history's indexes and unique constraints."""
    found = inspect(engine)
    keys = [(k["name"], k["column_names"]) for k in found.get_unique_constraints("entry_history")]
    keys += [
        (i["name"], i["column_names"])
        for i in found.get_indexes("entry_history")
        if not i.get("duplicates_constraint")  # PostgreSQL: the constraint's own index
    ]
    return sorted({(str(name), tuple(str(c) for c in columns)) for name, columns in keys})


def test_migration_0013_keys_before_images_by_version_and_keeps_them(engine: Engine) -> None:
    alembic(engine, "0012")
    rows = [
        (7, f"s3://bkt/{i}.jpg", version, i, f"line {i}") for i in range(5) for version in (1, 2)
    ]
    with engine.begin() as conn:
        for row in rows:
            conn.execute(
                text(
                    "INSERT INTO entry_history (dataset_id, source_ref, version, seq, line) "
                    "VALUES (:d, :r, :v, :s, :l)"
                ),
                dict(zip("drvsl", row, strict=True)),
            )
    assert _history_keys(engine) == [
        ("ix_entry_history_version", ("dataset_id", "version")),
        ("uq_entry_history", ("dataset_id", "source_ref", "version")),
    ]
    alembic(engine, "head")
    assert _history_keys(engine) == [("uq_entry_history", ("dataset_id", "version", "source_ref"))]
    query = text(
        "SELECT dataset_id, source_ref, version, seq, line FROM entry_history "
        "ORDER BY version, source_ref"
    )
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(query)] == sorted(rows, key=lambda r: (r[2], r[1]))
    with pytest.raises(Exception, match=r"(?i)unique"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO entry_history (dataset_id, source_ref, version) "
                "VALUES (7, 's3://bkt/0.jpg', 1)"
            )
        )
    alembic(engine, "0012", down=True)
    assert _history_keys(engine) == [
        ("ix_entry_history_version", ("dataset_id", "version")),
        ("uq_entry_history", ("dataset_id", "source_ref", "version")),
    ]
    with engine.connect() as conn:
        assert len(conn.execute(query).all()) == len(rows)


def test_a_versions_additions_are_kept_as_absences_of_that_dataset_only(store: Store) -> None:
    first, second = new_dataset(store), new_dataset(store)
    _write(store, first, "a", 10)
    _write(store, second, "a", 12)  # the same source-refs, in another dataset, higher seqs
    _write(store, first, "b", 16)  # 10 replaced, 6 added
    with store.read() as tx:
        befores = tx.version_befores(first, 2)
        record = tx.version_record(first, 2)
        other = tx.version_befores(second, 1)
    added = sorted(b.source_ref for b in befores if not b.exists)
    assert added == sorted(f"s3://bkt/{i}.jpg" for i in range(10, 16))
    assert len(befores) == 16 and record is not None and record.changed == 16
    assert other == []  # the other dataset's create kept nothing, and got nothing
