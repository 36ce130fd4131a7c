"""A user's test module: plain boto3 inside `mock_rekognition()`, no server process, no socket.

An audit hook (Python's own `sys.addaudithook`) records every internet socket created, bound or
connected and every process started while a test of this module runs; there must be none.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from manifestdb.testing import mock_rekognition

LINES = b"".join(
    b'{"source-ref":"s3://my-bucket/%s.jpg","flower":1,"flower-metadata":{"class-name":"%s",'
    b'"confidence":1,"type":"groundtruth/image-classification","human-annotated":"yes",'
    b'"creation-date":"2024-05-01T10:00:00"}}\n' % (name.encode(), label.encode())
    for name, label in [("a", "rose"), ("b", "tulip"), ("c", "rose"), ("d", "daisy"), ("e", "rose")]
)
WATCHED = {"socket.__new__", "socket.bind", "socket.connect", "subprocess.Popen", "os.fork"}
INTERNET = {socket.AF_INET, socket.AF_INET6}
seen: list[tuple[str, tuple[Any, ...]]] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if seen is None or event not in WATCHED:
        return
    if event == "socket.__new__" and args[1] not in INTERNET:
        return  # the event loop's own socketpair is a Unix socket
    if event in ("socket.bind", "socket.connect") and args[0].family not in INTERNET:
        return
    seen.append((event, args))


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def no_network_no_process() -> Iterator[None]:
    global seen
    seen = []
    try:
        yield
        assert seen == [], f"sockets or processes were used: {seen}"
    finally:
        seen = None


def wait(client: Any, dataset_arn: str) -> dict[str, Any]:
    while True:
        description = client.describe_dataset(DatasetArn=dataset_arn)["DatasetDescription"]
        if not description["Status"].endswith("IN_PROGRESS"):
            return dict(description)
        time.sleep(0.02)


def test_create_update_wait_list() -> None:
    with mock_rekognition():
        client = boto3.client("rekognition", region_name="eu-west-1")
        project = client.create_project(ProjectName="flowers")["ProjectArn"]
        dataset = client.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
        client.update_dataset_entries(DatasetArn=dataset, Changes={"GroundTruth": LINES})
        description = wait(client, dataset)

        assert project.startswith("arn:aws:rekognition:eu-west-1:123456789012:project/flowers/")
        assert description["Status"] == "UPDATE_COMPLETE"
        assert description["DatasetStats"]["TotalEntries"] == 5
        roses = client.list_dataset_entries(DatasetArn=dataset, ContainsLabels=["rose"])
        assert len(roses["DatasetEntries"]) == 3
        labels = client.list_dataset_labels(DatasetArn=dataset)["DatasetLabelDescriptions"]
        assert [label["LabelName"] for label in labels] == ["daisy", "rose", "tulip"]
        pages = client.get_paginator("list_dataset_entries").paginate(
            DatasetArn=dataset, PaginationConfig={"PageSize": 2}
        )
        assert [len(page["DatasetEntries"]) for page in pages] == [2, 2, 1]


def test_errors_are_the_usual_boto3_exceptions() -> None:
    with mock_rekognition():
        client = boto3.client("rekognition", region_name="us-east-1")
        client.create_project(ProjectName="flowers")
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.create_project(ProjectName="flowers")
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.describe_dataset(
                DatasetArn="arn:aws:rekognition:us-east-1:123456789012:project/x/dataset/train/1"
            )


@mock_rekognition
def test_as_a_decorator() -> None:
    client = boto3.client("rekognition", region_name="us-east-1")
    project = client.create_project(ProjectName="decorated")["ProjectArn"]
    train = client.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    test = client.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    client.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": LINES})
    wait(client, train)
    client.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
    totals = [wait(client, arn)["DatasetStats"]["TotalEntries"] for arn in (train, test)]
    assert totals == [4, 1]


def test_each_mock_starts_empty() -> None:
    with mock_rekognition():
        boto3.client("rekognition", region_name="us-east-1").create_project(ProjectName="once")
    with mock_rekognition():
        projects = boto3.client("rekognition", region_name="us-east-1").describe_projects()
        assert projects["ProjectDescriptions"] == []
