"""What tests share besides fixtures: real `manifestdb serve` processes (manifestdb.harness, the
launcher the pytest plugin and the benchmarks use too), PostgreSQL databases, and helpers that
drive a dataset through boto3. (Fixtures live in conftest.py.)"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from manifestdb.harness import ServerProcess

CREDENTIALS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "test",
    "aws_secret_access_key": "test",
}

Server = ServerProcess
ServerFactory = Callable[..., Server]

POSTGRES_URL = os.environ.get(
    "MANIFESTDB_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test"
)
# The suites that run against every backend: the whole API suite runs on SQLite and PostgreSQL,
# so a difference between the two stores shows up as a failing API test.
BOTH_BACKENDS = ("tests/api/", "tests/history/", "tests/reliability/test_hostile_input.py")


def wait_until(condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """Poll `condition` every 50 ms until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what or "timed out"
        time.sleep(0.05)


def wait_for_status(client: Any, dataset_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    """DescribeDataset's description once the dataset is no longer *_IN_PROGRESS."""
    deadline = time.monotonic() + timeout
    while True:
        description = client.describe_dataset(DatasetArn=dataset_arn)["DatasetDescription"]
        if not description["Status"].endswith("IN_PROGRESS"):
            return dict(description)
        if time.monotonic() > deadline:
            raise AssertionError(f"still {description['Status']} after {timeout}s")
        time.sleep(0.05)


def new_dataset(
    client: Any, lines: bytes | None = None, dataset_type: str = "TRAIN", project: str | None = None
) -> tuple[str, str]:
    """(project ARN, dataset ARN) of a new dataset, with `lines` applied and waited for."""
    project_arn = (
        project or client.create_project(ProjectName=f"p-{uuid.uuid4().hex[:12]}")["ProjectArn"]
    )
    dataset_arn = client.create_dataset(ProjectArn=project_arn, DatasetType=dataset_type)[
        "DatasetArn"
    ]
    if lines is not None:
        client.update_dataset_entries(DatasetArn=dataset_arn, Changes={"GroundTruth": lines})
        wait_for_status(client, dataset_arn)
    return project_arn, dataset_arn


def all_entries(client: Any, dataset_arn: str, **filters: Any) -> list[dict[str, Any]]:
    """Every entry of a dataset (parsed), through boto3's paginator."""
    import orjson

    paginator = client.get_paginator("list_dataset_entries")
    return [
        orjson.loads(entry)
        for page in paginator.paginate(DatasetArn=dataset_arn, **filters)
        for entry in page["DatasetEntries"]
    ]
