"""CreateDataset from a Ground Truth manifest on a real S3 endpoint (moto_server on loopback)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
import urllib3

from manifestdb.harness import free_port
from support.lines import box_line, image_line, manifest
from support.server import Server, ServerFactory, all_entries, wait_for_status

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BUCKET = "manifests"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto_server process on a free loopback port; its URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, **S3_ENV},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        http = urllib3.PoolManager()
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"moto_server exited: {log_path.read_text()}"
            try:
                if http.request("GET", url + "/", timeout=1, retries=False).status == 200:
                    break
            except urllib3.exceptions.HTTPError:
                pass
            assert time.monotonic() < deadline, f"moto_server did not start: {log_path.read_text()}"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def s3_server(
    start_server: ServerFactory, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Server:
    """A manifestdb server reading manifests from moto, with test credentials only."""
    scratch = tmp_path_factory.mktemp("aws")
    isolated = {
        "AWS_CONFIG_FILE": str(scratch / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "credentials"),
    }
    return start_server("--s3-endpoint-url", s3_endpoint, env={**S3_ENV, **isolated})


@pytest.fixture
def client(s3_server: Server) -> Any:
    return s3_server.client()


def new_project(client: Any) -> str:
    return str(client.create_project(ProjectName=f"s3-{uuid.uuid4().hex[:12]}")["ProjectArn"])


def from_manifest(client: Any, project: str, name: str, **s3_object: str) -> str:
    """CreateDataset TRAIN from s3://BUCKET/name; the dataset ARN."""
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": name, **s3_object}}}
    return str(
        client.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource=source)[
            "DatasetArn"
        ]
    )


def put(s3: Any, body: bytes) -> tuple[str, str]:
    """Upload a manifest under a new key: (key, version id or "null")."""
    key = f"gt/{uuid.uuid4().hex}/output.manifest"
    answer = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return key, answer.get("VersionId", "null")


GOOD_LINES = [
    image_line("s3://images/1.jpg", "cat"),
    image_line("s3://images/2.jpg", "cat", "dog"),
    box_line("s3://images/3.jpg", [("bird", 10, 10, 100, 100), ("cat", 200, 50, 80, 60)]),
    box_line("s3://images/4.jpg", [("bird", 10, 10, 100, 100), ("bird", 5000, 0, 10, 10)]),
    {"source-ref": "s3://images/5.jpg"},
]


def test_create_dataset_from_an_s3_manifest(client: Any, s3: Any):
    key, _ = put(s3, manifest(*GOOD_LINES))
    train = from_manifest(client, new_project(client), key)
    description = wait_for_status(client, train)
    assert description["Status"] == "CREATE_COMPLETE"
    assert description["StatusMessageCode"] == "SUCCESS"
    assert description["StatusMessage"] == "The dataset was successfully created."
    assert description["DatasetStats"] == {
        "LabeledEntries": 4,
        "TotalEntries": 5,
        "TotalLabels": 3,
        "ErrorEntries": 1,
    }
    entries = all_entries(client, train)
    assert [entry["source-ref"] for entry in entries] == [line["source-ref"] for line in GOOD_LINES]
    assert entries[0]["label-metadata"]["class-name"] == "cat"
    assert entries[2]["bounding-box"] == GOOD_LINES[2]["bounding-box"]
    assert [entry["cl-metadata"]["is_labeled"] for entry in entries] == [True] * 4 + [False]
    labels = client.list_dataset_labels(DatasetArn=train)["DatasetLabelDescriptions"]
    assert {label["LabelName"]: label["LabelStats"] for label in labels} == {
        "bird": {"EntryCount": 2, "BoundingBoxCount": 2},
        "cat": {"EntryCount": 3, "BoundingBoxCount": 1},
        "dog": {"EntryCount": 1, "BoundingBoxCount": 0},
    }


def test_a_manifest_of_several_mebibytes_is_read_whole(client: Any, s3: Any):
    # Lines cross the boundaries of the chunks the server reads the object in.
    count = 15_000
    body = manifest(
        *(image_line(f"s3://images/many/{i:06d}.jpg", f"label{i % 7}") for i in range(count))
    )
    assert len(body) > 3 * 1024 * 1024
    key, _ = put(s3, body)
    train = from_manifest(client, new_project(client), key)
    description = wait_for_status(client, train, timeout=60)
    assert description["Status"] == "CREATE_COMPLETE", description["StatusMessage"]
    assert description["DatasetStats"]["TotalEntries"] == count
    assert description["DatasetStats"]["TotalLabels"] == 7
    page = client.list_dataset_entries(DatasetArn=train, SourceRefContains="/014999.")
    (entry,) = page["DatasetEntries"]
    assert orjson.loads(entry)["label-metadata"]["class-name"] == f"label{14999 % 7}"


@pytest.mark.parametrize(
    ("bucket", "name"),
    [(BUCKET, "no/such/object.manifest"), ("no-such-bucket", "output.manifest")],
    ids=["missing-object", "missing-bucket"],
)
def test_an_object_that_cannot_be_read_is_invalid_at_call_time(
    client: Any, s3: Any, bucket: str, name: str
):
    project = new_project(client)
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": name}}}
    with pytest.raises(client.exceptions.InvalidS3ObjectException) as info:
        client.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource=source)
    assert f"s3://{bucket}/{name}" in info.value.response["Error"]["Message"]
    # Nothing was created.
    (found,) = client.describe_projects(ProjectNames=[project.split("/")[1]])["ProjectDescriptions"]
    assert found["Datasets"] == []


def test_more_than_a_fifth_of_garbage_lines_fails_creation(client: Any, s3: Any):
    good = [image_line(f"s3://images/g{i}.jpg", "cat") for i in range(7)]
    garbage = ["this is not json", '{"no-source-ref": 1}', '{"source-ref": "http://x/y.jpg"}']
    key, _ = put(s3, manifest(*good[:3], *garbage, *good[3:]))  # 3 of 10 lines: 30%
    train = from_manifest(client, new_project(client), key)
    description = wait_for_status(client, train)
    assert description["Status"] == "CREATE_FAILED"
    assert description["StatusMessageCode"] == "CLIENT_ERROR"
    assert description["StatusMessage"].startswith("ERROR_TOO_MANY_RECORDS_IN_ERROR")
    assert description["DatasetStats"] == {
        "LabeledEntries": 0,
        "TotalEntries": 0,
        "TotalLabels": 0,
        "ErrorEntries": 0,
    }
    with pytest.raises(client.exceptions.ResourceNotReadyException):
        client.list_dataset_entries(DatasetArn=train)


def test_a_fifth_of_garbage_lines_is_dropped_and_creation_succeeds(client: Any, s3: Any):
    good = [image_line(f"s3://images/g{i}.jpg", "cat") for i in range(8)]
    key, _ = put(s3, manifest(*good[:4], "not json", '{"source-ref": 5}', *good[4:]))
    train = from_manifest(client, new_project(client), key)
    description = wait_for_status(client, train)
    assert description["Status"] == "CREATE_COMPLETE", description["StatusMessage"]
    assert description["DatasetStats"]["TotalEntries"] == 8
    refs = [entry["source-ref"] for entry in all_entries(client, train)]
    assert refs == [line["source-ref"] for line in good]


def test_a_version_of_a_versioned_object_is_read(client: Any, s3: Any):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    try:
        key, first = put(s3, manifest(*GOOD_LINES[:2]))
        second = s3.put_object(Bucket=BUCKET, Key=key, Body=manifest(*GOOD_LINES))["VersionId"]
        assert first not in ("null", second)
        project = new_project(client)
        old = from_manifest(client, project, key, Version=first)
        assert wait_for_status(client, old)["DatasetStats"]["TotalEntries"] == 2
        source = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}}
        latest = client.create_dataset(
            ProjectArn=project, DatasetType="TEST", DatasetSource=source
        )["DatasetArn"]
        assert wait_for_status(client, latest)["DatasetStats"]["TotalEntries"] == 5
        with pytest.raises(client.exceptions.InvalidS3ObjectException):
            from_manifest(client, new_project(client), key, Version="no-such-version")
    finally:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
