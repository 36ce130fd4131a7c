"""Jobs that break on a real fault in a real server: a delete that cannot commit gives its datasets
(and project) back, to be deleted again; a job of an unknown kind fails alone, logged.

The fault is a SQLite trigger installed into the running server's database file, refusing every
DELETE on `entries` the way a failing disk or a bug in the delete would: the job's transaction
raises and rolls back.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from support.lines import image_line, manifest
from support.server import all_entries, new_dataset, wait_for_status, wait_until

DB_FILE = "manifestdb.sqlite3"
REFUSE = (
    "CREATE TRIGGER refuse_entry_delete BEFORE DELETE ON entries "
    "BEGIN SELECT RAISE(ABORT, 'injected'); END"
)
LINES = manifest(*(image_line(f"s3://bucket/img/{n}.jpg", "cat", "dog") for n in range(6)))


def _execute(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One statement on the running server's database (WAL: the server keeps serving)."""
    connection = sqlite3.connect(data_dir / DB_FILE, timeout=30, isolation_level=None)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def _gone(client: Any, dataset_arn: str) -> bool:
    try:
        client.describe_dataset(DatasetArn=dataset_arn)
    except client.exceptions.ResourceNotFoundException:
        return True
    return False


def _project(client: Any, project_arn: str) -> dict[str, Any] | None:
    found = [
        p
        for p in client.describe_projects()["ProjectDescriptions"]
        if p["ProjectArn"] == project_arn
    ]
    return found[0] if found else None


@pytest.fixture
def faulty_server(start_server: Any, tmp_path: Path) -> Any:
    data_dir = tmp_path / "data"
    server = start_server(data_dir=data_dir)
    return server, server.client(), data_dir


def test_a_failed_delete_gives_the_dataset_back_and_can_be_retried(faulty_server: Any) -> None:
    server, client, data_dir = faulty_server
    _, dataset_arn = new_dataset(client, LINES)
    before = wait_for_status(client, dataset_arn)
    assert before["Status"] == "UPDATE_COMPLETE"
    _execute(data_dir, REFUSE)

    client.delete_dataset(DatasetArn=dataset_arn)
    after = wait_for_status(client, dataset_arn)
    assert after["Status"] == "UPDATE_COMPLETE"  # the status it had before the delete
    assert after["StatusMessageCode"] == "SERVICE_ERROR"
    assert after["StatusMessage"].startswith("manifestdb could not delete the dataset: ")
    assert "DeleteDataset may be called again" in after["StatusMessage"]
    assert after["DatasetStats"] == before["DatasetStats"]
    assert len(all_entries(client, dataset_arn)) == 6
    assert "injected" in server.log()  # the cause is in the server log

    _execute(data_dir, "DROP TRIGGER refuse_entry_delete")
    client.delete_dataset(DatasetArn=dataset_arn)
    wait_until(lambda: _gone(client, dataset_arn), what="the retried delete did not finish")


def test_a_failed_project_delete_gives_the_project_and_its_datasets_back(
    faulty_server: Any,
) -> None:
    _, client, data_dir = faulty_server
    project_arn, train_arn = new_dataset(client, LINES)
    _, test_arn = new_dataset(client, dataset_type="TEST", project=project_arn)
    _execute(data_dir, REFUSE)

    assert client.delete_project(ProjectArn=project_arn)["Status"] == "DELETING"
    wait_until(
        lambda: (_project(client, project_arn) or {}).get("Status") == "CREATED",
        what="the project stayed DELETING",
    )
    project = _project(client, project_arn)
    assert project is not None
    statuses = {d["DatasetType"]: d for d in project["Datasets"]}
    assert statuses["TRAIN"]["Status"] == "UPDATE_COMPLETE"
    assert statuses["TEST"]["Status"] == "CREATE_COMPLETE"
    for dataset in statuses.values():
        assert dataset["StatusMessageCode"] == "SERVICE_ERROR"
        assert "DeleteProject may be called again" in dataset["StatusMessage"]
    assert len(all_entries(client, train_arn)) == 6

    _execute(data_dir, "DROP TRIGGER refuse_entry_delete")
    assert client.delete_project(ProjectArn=project_arn)["Status"] == "DELETING"
    wait_until(lambda: _project(client, project_arn) is None, what="the project was not deleted")
    assert _gone(client, train_arn) and _gone(client, test_arn)


def test_a_job_of_an_unknown_kind_fails_alone_and_says_why(faulty_server: Any) -> None:
    server, client, data_dir = faulty_server
    _, dataset_arn = new_dataset(client, LINES)
    [(dataset_id,)] = _execute(data_dir, "SELECT id FROM datasets WHERE arn = ?", (dataset_arn,))
    _execute(
        data_dir,
        "INSERT INTO jobs (dataset_id, kind, params, state, created_at) "
        "VALUES (?, 'compact', '{}', 'queued', ?)",
        (dataset_id, time.time()),
    )

    def state() -> str:
        [(found,)] = _execute(data_dir, "SELECT state FROM jobs WHERE kind = 'compact'")
        return str(found)

    wait_until(lambda: state() == "failed", what="the unknown job was not failed")
    assert "does not know the job kind 'compact'" in server.log()
    description = wait_for_status(client, dataset_arn)
    assert description["Status"] == "UPDATE_FAILED"
    assert description["StatusMessageCode"] == "SERVICE_ERROR"

    # The runner goes on: the dataset takes the next change.
    client.update_dataset_entries(
        DatasetArn=dataset_arn,
        Changes={"GroundTruth": manifest(image_line("s3://bucket/img/new.jpg", "cat"))},
    )
    assert wait_for_status(client, dataset_arn)["Status"] == "UPDATE_COMPLETE"
    assert len(all_entries(client, dataset_arn)) == 7
