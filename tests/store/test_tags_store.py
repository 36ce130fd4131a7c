"""The tags table: kept per resource ARN, upserted, and removed in the transaction that deletes
the resource (nothing left behind), on both backends; migration 0010 adds it to a database."""

from __future__ import annotations

from migration_support import alembic
from sqlalchemy import Engine, inspect, text

from manifestdb.store import Store

PROJECT = "arn:aws:rekognition:us-east-1:123456789012:project/p/1"
DATASET = "arn:aws:rekognition:us-east-1:123456789012:project/p/dataset/train/2"


def _tag_rows(store: Store) -> list[tuple[str, str, str]]:
    with store.read() as tx:
        rows = tx.conn.execute(text("SELECT arn, key, value FROM tags ORDER BY arn, key"))
        return [tuple(row) for row in rows]


def test_tags_are_upserted_and_go_with_their_resources(store: Store) -> None:
    with store.write() as tx:
        project = tx.insert_project(
            account="123456789012",
            region="us-east-1",
            name="p",
            arn=PROJECT,
            feature="CUSTOM_LABELS",
            auto_update=None,
            status="CREATED",
            created_at=0,
        )
        dataset = tx.insert_dataset(
            project_id=project.id,
            account="123456789012",
            arn=DATASET,
            dataset_type="TRAIN",
            status="CREATE_COMPLETE",
            status_message="",
            status_message_code="SUCCESS",
            created_at=0,
        )
        tx.set_tags(PROJECT, {"team": "a"})
        tx.set_tags(DATASET, {"x": "1", "y": "2"})
        tx.set_tags(DATASET, {"y": "two"})
        tx.remove_tags(DATASET, ["x", "absent"])
    with store.read() as tx:
        assert tx.tags_of(DATASET) == {"y": "two"}
        assert tx.tag_count(DATASET, adding=["y", "z"]) == 2
    with store.write() as tx:
        tx.delete_dataset_rows(dataset.id)
    assert _tag_rows(store) == [(PROJECT, "team", "a")]
    with store.write() as tx:
        tx.delete_project_row(project.id)
    assert _tag_rows(store) == []


def test_migration_0010_adds_the_table_and_takes_it_away(engine: Engine) -> None:
    alembic(engine, "0009")
    assert "tags" not in inspect(engine).get_table_names()
    alembic(engine, "0010")
    columns = {column["name"] for column in inspect(engine).get_columns("tags")}
    assert columns == {"arn", "key", "value"}
    alembic(engine, "0009", down=True)
    assert "tags" not in inspect(engine).get_table_names()
