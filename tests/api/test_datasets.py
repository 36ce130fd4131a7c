"""CreateDataset (three sources), DescribeDataset and DeleteDataset against a real server."""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from support.lines import box_line, image_line, manifest
from support.server import all_entries, new_dataset, wait_for_status

DATASET_ARN = re.compile(
    r"^arn:aws:rekognition:us-east-1:123456789012:project/[\w.-]+/dataset/(train|test)/\d+$"
)


def test_create_empty_dataset_is_complete_at_once(rekognition: Any):
    project, train = new_dataset(rekognition)
    assert DATASET_ARN.match(train) and "/dataset/train/" in train
    description = rekognition.describe_dataset(DatasetArn=train)["DatasetDescription"]
    assert description["Status"] == "CREATE_COMPLETE"
    assert description["StatusMessageCode"] == "SUCCESS"
    assert description["StatusMessage"] == "The dataset was successfully created."
    assert description["DatasetStats"] == {
        "LabeledEntries": 0,
        "TotalEntries": 0,
        "TotalLabels": 0,
        "ErrorEntries": 0,
    }
    assert description["CreationTimestamp"] <= description["LastUpdatedTimestamp"]
    test = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    assert "/dataset/test/" in test


def test_a_second_train_dataset_is_resource_already_exists(rekognition: Any):
    project, _ = new_dataset(rekognition)
    with pytest.raises(rekognition.exceptions.ResourceAlreadyExistsException):
        rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN")


def test_create_dataset_in_a_missing_project_is_not_found(rekognition: Any):
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.create_dataset(
            ProjectArn="arn:aws:rekognition:us-east-1:123456789012:project/none/123",
            DatasetType="TRAIN",
        )


@pytest.mark.parametrize(
    "source",
    [
        {},
        {
            "DatasetArn": "arn:aws:rekognition:us-east-1:123456789012:project/a/dataset/train/1",
            "GroundTruthManifest": {"S3Object": {"Bucket": "bucket", "Name": "m.manifest"}},
        },
    ],
    ids=["neither", "both"],
)
def test_create_dataset_with_neither_or_both_sources_is_invalid(rekognition: Any, source: dict):
    project, _ = new_dataset(rekognition)
    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.create_dataset(ProjectArn=project, DatasetType="TEST", DatasetSource=source)


def test_create_dataset_as_a_copy_revalidates_every_line(rekognition: Any):
    lines = manifest(
        image_line("s3://bkt/1.jpg", "cat"),
        box_line("s3://bkt/2.jpg", [("dog", 10, 10, 100, 100)]),
        {"source-ref": "s3://bkt/3.jpg"},
    )
    project, train = new_dataset(rekognition, lines)
    test = rekognition.create_dataset(
        ProjectArn=project, DatasetType="TEST", DatasetSource={"DatasetArn": train}
    )["DatasetArn"]
    description = wait_for_status(rekognition, test)
    assert description["Status"] == "CREATE_COMPLETE"
    assert description["DatasetStats"]["TotalEntries"] == 3
    assert description["DatasetStats"]["LabeledEntries"] == 2
    assert description["DatasetStats"]["TotalLabels"] == 2
    assert all_entries(rekognition, test) == all_entries(rekognition, train)


def test_create_dataset_from_a_manifest_in_a_local_bucket(start_server: Any, tmp_path: Path):
    bucket = tmp_path / "buckets" / "my-bucket"
    bucket.mkdir(parents=True)
    (bucket / "train.manifest").write_bytes(
        manifest(*(image_line(f"s3://my-bucket/{i}.jpg", f"label{i % 3}") for i in range(20)))
    )
    client = start_server("--local-buckets", str(tmp_path / "buckets")).client()
    project = client.create_project(ProjectName="from-manifest")["ProjectArn"]
    train = client.create_dataset(
        ProjectArn=project,
        DatasetType="TRAIN",
        DatasetSource={
            "GroundTruthManifest": {"S3Object": {"Bucket": "my-bucket", "Name": "train.manifest"}}
        },
    )["DatasetArn"]
    description = wait_for_status(client, train)
    assert description["Status"] == "CREATE_COMPLETE"
    assert description["DatasetStats"]["TotalEntries"] == 20
    assert description["DatasetStats"]["TotalLabels"] == 3
    with pytest.raises(client.exceptions.InvalidS3ObjectException):
        client.create_dataset(
            ProjectArn=project,
            DatasetType="TEST",
            DatasetSource={
                "GroundTruthManifest": {"S3Object": {"Bucket": "my-bucket", "Name": "none"}}
            },
        )


@pytest.fixture
def local_bucket_client(start_server: Any, tmp_path: Path) -> tuple[Any, str, Path]:
    """A server with --local-buckets, a project, and the folder of its bucket `bkt`."""
    bucket = tmp_path / "buckets" / "bkt"
    bucket.mkdir(parents=True)
    (bucket / "loop").symlink_to(bucket / "loop")
    (bucket / "folder.manifest").mkdir()
    os.mkfifo(bucket / "fifo.manifest")
    (tmp_path / "outside.manifest").write_bytes(manifest(image_line("s3://bkt/x.jpg", "a")))
    (bucket / "link-out.manifest").symlink_to(tmp_path / "outside.manifest")
    client = start_server("--local-buckets", str(tmp_path / "buckets")).client()
    project = client.create_project(ProjectName=f"local-{uuid.uuid4().hex[:8]}")["ProjectArn"]
    return client, project, bucket


@pytest.mark.parametrize(
    ("bucket", "name", "says"),
    [
        ("bkt", "train\x00.manifest", "NUL character"),
        ("bkt", "x" * 256, "256 bytes long"),
        ("bkt", "deep/" + "é" * 128, "256 bytes long"),
        ("bkt", "loop", "a symbolic link that loops"),
        ("bkt", "loop/inside", "a symbolic link that loops"),
        ("bkt", "folder.manifest", "is a folder"),
        ("bkt", "fifo.manifest", "does not exist"),
        ("bkt", "link-out.manifest", "leaves its bucket"),
        ("bkt", "../b/../../outside.manifest", "leaves its bucket"),
    ],
)
def test_a_local_object_no_file_can_be_is_invalid_at_call_time(
    local_bucket_client: tuple[Any, str, Path], bucket: str, name: str, says: str
):
    client, project, _ = local_bucket_client
    with pytest.raises(client.exceptions.InvalidS3ObjectException) as raised:
        client.create_dataset(
            ProjectArn=project,
            DatasetType="TRAIN",
            DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": name}}},
        )
    assert says in raised.value.response["Error"]["Message"]
    assert client.describe_projects()["ProjectDescriptions"]  # the server answers on


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_local_object_is_invalid_at_call_time(
    local_bucket_client: tuple[Any, str, Path],
):
    client, project, bucket = local_bucket_client
    (bucket / "secret.manifest").write_bytes(manifest(image_line("s3://bkt/x.jpg", "a")))
    (bucket / "secret.manifest").chmod(0)
    with pytest.raises(client.exceptions.InvalidS3ObjectException) as raised:
        client.create_dataset(
            ProjectArn=project,
            DatasetType="TRAIN",
            DatasetSource={
                "GroundTruthManifest": {"S3Object": {"Bucket": "bkt", "Name": "secret.manifest"}}
            },
        )
    assert "permission denied" in raised.value.response["Error"]["Message"]


def test_a_manifest_with_bad_content_fails_creation(start_server: Any, tmp_path: Path):
    bucket = tmp_path / "b" / "bucket"
    bucket.mkdir(parents=True)
    (bucket / "bad.manifest").write_bytes(b"this is not json\nneither is this\n")
    client = start_server("--local-buckets", str(tmp_path / "b")).client()
    project = client.create_project(ProjectName="bad-manifest")["ProjectArn"]
    train = client.create_dataset(
        ProjectArn=project,
        DatasetType="TRAIN",
        DatasetSource={
            "GroundTruthManifest": {"S3Object": {"Bucket": "bucket", "Name": "bad.manifest"}}
        },
    )["DatasetArn"]
    description = wait_for_status(client, train)
    assert description["Status"] == "CREATE_FAILED"
    assert description["StatusMessageCode"] == "CLIENT_ERROR"
    assert description["StatusMessage"].startswith("ERROR_")
    with pytest.raises(client.exceptions.ResourceNotReadyException):
        client.list_dataset_entries(DatasetArn=train)
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.update_dataset_entries(
            DatasetArn=train, Changes={"GroundTruth": manifest(image_line("s3://bkt/x", "a"))}
        )


def test_delete_dataset_then_it_is_gone(rekognition: Any):
    project, train = new_dataset(rekognition, manifest(image_line("s3://bkt/1.jpg", "cat")))
    assert rekognition.delete_dataset(DatasetArn=train)["ResponseMetadata"]["HTTPStatusCode"] == 200
    deadline = time.monotonic() + 10
    while True:
        try:
            status = rekognition.describe_dataset(DatasetArn=train)["DatasetDescription"]["Status"]
            assert status == "DELETE_IN_PROGRESS"
        except rekognition.exceptions.ResourceNotFoundException:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (found,) = rekognition.describe_projects(ProjectNames=[project.split("/")[1]])[
        "ProjectDescriptions"
    ]
    assert found["Datasets"] == []
    # A new TRAIN dataset may take its place.
    rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN")


def test_describe_and_delete_of_a_missing_dataset_are_not_found(rekognition: Any):
    arn = "arn:aws:rekognition:us-east-1:123456789012:project/x/dataset/train/1"
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.describe_dataset(DatasetArn=arn)
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.delete_dataset(DatasetArn=arn)


def test_another_accounts_dataset_arn_is_not_found(rekognition: Any):
    _, train = new_dataset(rekognition)
    foreign = train.replace(":123456789012:", ":210987654321:")
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.describe_dataset(DatasetArn=foreign)
