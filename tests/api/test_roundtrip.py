"""Every operation's raw answer, read back by botocore's own parser with the model's shapes.

A hand-built request goes out; the raw JSON that comes back must (1) have the types, enums,
lengths and patterns of the operation's output shape, member by member, and (2) equal what
botocore's parser makes of it, timestamps apart (the parser drops keys the model does not know,
so any extra key shows as a difference). Errors are parsed the same way.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from botocore.model import Shape

from support.lines import box_line, image_line, manifest
from support.raw import (
    Answer,
    b64,
    botocore_parse,
    call,
    check_error,
    check_ok,
    check_shape,
    operation_model,
    post,
)
from support.server import Server, ServerFactory

MISSING_PROJECT = "arn:aws:rekognition:us-east-1:123456789012:project/none/1"
MISSING_DATASET = "arn:aws:rekognition:us-east-1:123456789012:project/none/dataset/train/1"
# Codes every AWS JSON service may answer besides an operation's modeled errors.
PROTOCOL_ERRORS = {
    "ValidationException",
    "SerializationException",
    "UnknownOperationException",
    "UnsupportedOperationException",
    "RequestEntityTooLargeException",
}


# -- the comparison --------------------------------------------------------------------------


def as_parsed(value: Any, shape: Shape) -> Any:
    """Raw JSON as botocore should parse it: timestamps (epoch seconds) become datetimes."""
    kind = shape.type_name
    if kind == "structure":
        return {name: as_parsed(item, shape.members[name]) for name, item in value.items()}
    if kind == "list":
        return [as_parsed(item, shape.member) for item in value]
    if kind == "map":
        return {key: as_parsed(item, shape.value) for key, item in value.items()}
    if kind == "timestamp":
        assert type(value) is float, f"timestamp {value!r} is not epoch seconds with a fraction"
        assert round(value, 3) == value, f"timestamp {value!r} is finer than milliseconds"
        return datetime.fromtimestamp(value, UTC)
    return value


def roundtrip(server: Server, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Send `params` by hand; check the raw answer against the model and botocore's parse."""
    answer = call(server.url, operation, params)
    raw = check_ok(answer)
    shape = operation_model(operation).output_shape
    check_shape(raw, shape)
    parsed = botocore_parse(operation, answer)
    metadata = parsed.pop("ResponseMetadata")
    assert metadata["HTTPStatusCode"] == 200
    assert metadata["RequestId"] == answer.headers["x-amzn-RequestId"]
    assert parsed == as_parsed(raw, shape)
    assert list(parsed) == list(raw)  # nothing dropped: the same keys, in the same order
    for timestamp in _timestamps(parsed):
        assert timestamp.tzinfo is not None
    return parsed


def _timestamps(value: Any) -> list[datetime]:
    if isinstance(value, datetime):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _timestamps(item)]
    if isinstance(value, list):
        return [t for item in value for t in _timestamps(item)]
    return []


def parsed_error(operation: str, answer: Answer, code: str, status: int = 400) -> str:
    """Check an error answer raw and as botocore parses it; the message."""
    message = check_error(answer, code, status)
    parsed = botocore_parse(operation, answer)
    assert parsed["Error"] == {"Code": code, "Message": message}
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status
    assert parsed["ResponseMetadata"]["RequestId"] == answer.headers["x-amzn-RequestId"]
    modeled = {error.name for error in operation_model(operation).error_shapes}
    assert code in modeled | PROTOCOL_ERRORS, f"{code} is not an error of {operation}"
    return message


def wait_raw(server: Server, dataset_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    """DescribeDataset (raw, round-tripped) until the dataset is not *_IN_PROGRESS."""
    deadline = time.monotonic() + timeout
    while True:
        parsed = roundtrip(server, "DescribeDataset", {"DatasetArn": dataset_arn})
        description: dict[str, Any] = parsed["DatasetDescription"]
        if not description["Status"].endswith("IN_PROGRESS"):
            return description
        assert time.monotonic() < deadline, f"still {description['Status']}"
        time.sleep(0.05)


# -- resources -------------------------------------------------------------------------------

LINES = manifest(
    image_line("s3://my-bucket/1.jpg", "cat"),
    image_line("s3://my-bucket/2.jpg", "cat", "dog"),
    image_line("s3://my-bucket/3.jpg", "dog"),
    box_line("s3://my-bucket/4.jpg", [("cat", 10, 10, 100, 100), ("bird", 200, 50, 80, 60)]),
    box_line("s3://my-bucket/5.jpg", [("bird", 10, 10, 100, 100), ("bird", 5000, 0, 10, 10)]),
    {"source-ref": "s3://my-bucket/6.jpg"},
)


def _new_project(server: Server) -> tuple[str, str]:
    name = f"rt-{uuid.uuid4().hex[:12]}"
    parsed = roundtrip(server, "CreateProject", {"ProjectName": name})
    return name, parsed["ProjectArn"]


def _new_dataset(server: Server, project_arn: str, dataset_type: str) -> str:
    parsed = roundtrip(
        server, "CreateDataset", {"ProjectArn": project_arn, "DatasetType": dataset_type}
    )
    arn: str = parsed["DatasetArn"]
    return arn


@pytest.fixture(scope="module")
def filled(server: Server) -> dict[str, str]:
    """A project with a TRAIN dataset holding LINES (labels, boxes, errors) and an empty TEST."""
    name, project = _new_project(server)
    train = _new_dataset(server, project, "TRAIN")
    test = _new_dataset(server, project, "TEST")
    update = {"DatasetArn": train, "Changes": {"GroundTruth": b64(LINES)}}
    assert roundtrip(server, "UpdateDatasetEntries", update) == {}
    assert wait_raw(server, train)["Status"] == "UPDATE_COMPLETE"
    return {"name": name, "project": project, "train": train, "test": test}


# -- the dataset operations ---------------------------------------------------------------------


def test_create_project(server: Server):
    name = f"rt-{uuid.uuid4().hex[:12]}"
    parsed = roundtrip(server, "CreateProject", {"ProjectName": name, "Feature": "CUSTOM_LABELS"})
    assert parsed["ProjectArn"].split("/")[1] == name


def test_create_dataset_both_types(server: Server):
    _, project = _new_project(server)
    assert "/dataset/train/" in _new_dataset(server, project, "TRAIN")
    assert "/dataset/test/" in _new_dataset(server, project, "TEST")


def test_describe_projects_with_datasets(server: Server, filled: dict[str, str]):
    parsed = roundtrip(server, "DescribeProjects", {"ProjectNames": [filled["name"]]})
    assert "NextToken" not in parsed
    (project,) = parsed["ProjectDescriptions"]
    assert project["ProjectArn"] == filled["project"]
    assert project["Status"] == "CREATED"
    assert {d["DatasetArn"] for d in project["Datasets"]} == {filled["train"], filled["test"]}
    for dataset in project["Datasets"]:
        assert set(dataset) == {
            "CreationTimestamp",
            "DatasetType",
            "DatasetArn",
            "Status",
            "StatusMessage",
            "StatusMessageCode",
        }
        assert dataset["CreationTimestamp"] >= project["CreationTimestamp"]


def test_describe_projects_pages(server: Server, filled: dict[str, str]):
    first = roundtrip(server, "DescribeProjects", {"MaxResults": 1})
    assert len(first["ProjectDescriptions"]) == 1
    second = roundtrip(
        server, "DescribeProjects", {"MaxResults": 1, "NextToken": first["NextToken"]}
    )
    assert second["ProjectDescriptions"] != first["ProjectDescriptions"]


def test_describe_dataset(server: Server, filled: dict[str, str]):
    parsed = roundtrip(server, "DescribeDataset", {"DatasetArn": filled["train"]})
    description = parsed["DatasetDescription"]
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["StatusMessageCode"] == "SUCCESS"
    assert description["DatasetStats"] == {
        "LabeledEntries": 5,
        "TotalEntries": 6,
        "TotalLabels": 3,
        "ErrorEntries": 1,
    }
    assert description["CreationTimestamp"] <= description["LastUpdatedTimestamp"]


def test_list_dataset_entries_pages(server: Server, filled: dict[str, str]):
    entries: list[str] = []
    params: dict[str, Any] = {"DatasetArn": filled["train"], "MaxResults": 4}
    while True:
        parsed = roundtrip(server, "ListDatasetEntries", params)
        entries += parsed["DatasetEntries"]
        if "NextToken" not in parsed:
            break
        params["NextToken"] = parsed["NextToken"]
    assert len(entries) == 6
    lines = [orjson.loads(entry) for entry in entries]
    assert [line["source-ref"] for line in lines] == [
        f"s3://my-bucket/{i}.jpg" for i in range(1, 7)
    ]
    assert [line["cl-metadata"]["is_labeled"] for line in lines] == [True] * 5 + [False]


def test_list_dataset_entries_filtered(server: Server, filled: dict[str, str]):
    parsed = roundtrip(
        server,
        "ListDatasetEntries",
        {"DatasetArn": filled["train"], "ContainsLabels": ["bird"], "HasErrors": True},
    )
    (entry,) = parsed["DatasetEntries"]
    assert orjson.loads(entry)["source-ref"] == "s3://my-bucket/5.jpg"


def test_list_dataset_labels(server: Server, filled: dict[str, str]):
    labels: list[dict[str, Any]] = []
    params: dict[str, Any] = {"DatasetArn": filled["train"], "MaxResults": 2}
    while True:
        parsed = roundtrip(server, "ListDatasetLabels", params)
        labels += parsed["DatasetLabelDescriptions"]
        if "NextToken" not in parsed:
            break
        params["NextToken"] = parsed["NextToken"]
    assert labels == [
        {"LabelName": "bird", "LabelStats": {"EntryCount": 2, "BoundingBoxCount": 2}},
        {"LabelName": "cat", "LabelStats": {"EntryCount": 3, "BoundingBoxCount": 1}},
        {"LabelName": "dog", "LabelStats": {"EntryCount": 2, "BoundingBoxCount": 0}},
    ]


def test_update_dataset_entries(server: Server, filled: dict[str, str]):
    _, project = _new_project(server)
    train = _new_dataset(server, project, "TRAIN")
    update = {"DatasetArn": train, "Changes": {"GroundTruth": b64(LINES)}}
    assert roundtrip(server, "UpdateDatasetEntries", update) == {}
    assert wait_raw(server, train)["DatasetStats"]["TotalEntries"] == 6


def test_distribute_dataset_entries(server: Server):
    _, project = _new_project(server)
    train = _new_dataset(server, project, "TRAIN")
    test = _new_dataset(server, project, "TEST")
    lines = manifest(*(image_line(f"s3://my-bucket/{i}.jpg", f"l{i % 2}") for i in range(10)))
    roundtrip(
        server,
        "UpdateDatasetEntries",
        {"DatasetArn": train, "Changes": {"GroundTruth": b64(lines)}},
    )
    assert wait_raw(server, train)["Status"] == "UPDATE_COMPLETE"
    # Either order of the two datasets is accepted.
    datasets = [{"Arn": test}, {"Arn": train}]
    assert roundtrip(server, "DistributeDatasetEntries", {"Datasets": datasets}) == {}
    train_after, test_after = wait_raw(server, train), wait_raw(server, test)
    assert train_after["Status"] == test_after["Status"] == "UPDATE_COMPLETE"
    assert train_after["DatasetStats"]["TotalEntries"] == 8
    assert test_after["DatasetStats"]["TotalEntries"] == 2


def test_delete_dataset(server: Server):
    _, project = _new_project(server)
    test = _new_dataset(server, project, "TEST")
    assert roundtrip(server, "DeleteDataset", {"DatasetArn": test}) == {}
    deadline = time.monotonic() + 30
    while (answer := call(server.url, "DescribeDataset", {"DatasetArn": test})).status == 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    parsed_error("DescribeDataset", answer, "ResourceNotFoundException")


def test_delete_project(server: Server):
    _, project = _new_project(server)
    _new_dataset(server, project, "TRAIN")
    assert roundtrip(server, "DeleteProject", {"ProjectArn": project}) == {"Status": "DELETING"}


# -- errors, parsed by botocore --------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params", "code"),
    [
        ("DescribeDataset", {"DatasetArn": MISSING_DATASET}, "ResourceNotFoundException"),
        ("DeleteDataset", {"DatasetArn": MISSING_DATASET}, "ResourceNotFoundException"),
        ("ListDatasetLabels", {"DatasetArn": MISSING_DATASET}, "ResourceNotFoundException"),
        ("DeleteProject", {"ProjectArn": MISSING_PROJECT}, "ResourceNotFoundException"),
        (
            "CreateDataset",
            {"ProjectArn": MISSING_PROJECT, "DatasetType": "TRAIN"},
            "ResourceNotFoundException",
        ),
        (
            "UpdateDatasetEntries",
            {"DatasetArn": MISSING_DATASET, "Changes": {"GroundTruth": b64(b"{}")}},
            "ResourceNotFoundException",
        ),
        (
            "DistributeDatasetEntries",
            {"Datasets": [{"Arn": MISSING_DATASET}, {"Arn": MISSING_DATASET}]},
            "ResourceNotFoundException",
        ),
        ("DescribeProjects", {"MaxResults": 101}, "ValidationException"),
        ("CreateProject", {}, "ValidationException"),
        ("DescribeProjects", {"MaxResults": "1"}, "SerializationException"),
        ("DescribeProjects", {"NextToken": "forged"}, "InvalidPaginationTokenException"),
        (
            "ListDatasetEntries",
            {"DatasetArn": MISSING_DATASET, "NextToken": "forged"},
            "ResourceNotFoundException",  # the dataset is looked up before the token is read
        ),
    ],
)
def test_errors_parse(server: Server, operation: str, params: dict[str, Any], code: str):
    parsed_error(operation, call(server.url, operation, params), code)


def test_semantic_errors_parse(server: Server, filled: dict[str, str]):
    answer = call(server.url, "CreateProject", {"ProjectName": filled["name"]})
    assert filled["name"] in parsed_error("CreateProject", answer, "ResourceInUseException")
    answer = call(
        server.url, "CreateDataset", {"ProjectArn": filled["project"], "DatasetType": "TRAIN"}
    )
    parsed_error("CreateDataset", answer, "ResourceAlreadyExistsException")
    answer = call(
        server.url,
        "CreateDataset",
        {"ProjectArn": filled["project"], "DatasetType": "TEST", "DatasetSource": {}},
    )
    parsed_error("CreateDataset", answer, "InvalidParameterException")
    both_train = {"Datasets": [{"Arn": filled["train"]}, {"Arn": filled["train"]}]}
    answer = call(server.url, "DistributeDatasetEntries", both_train)
    parsed_error("DistributeDatasetEntries", answer, "InvalidParameterException")
    answer = call(
        server.url, "ListDatasetEntries", {"DatasetArn": filled["test"], "NextToken": "x" * 8}
    )
    parsed_error("ListDatasetEntries", answer, "InvalidPaginationTokenException")


def test_protocol_errors_parse(server: Server):
    parsed_error("DescribeProjects", post(server.url, None, b"{}"), "UnknownOperationException")
    answer = post(server.url, "DetectLabels", b"{}")
    parsed_error("DescribeProjects", answer, "UnsupportedOperationException")
    answer = post(server.url, "DescribeProjects", b"[]")
    parsed_error("DescribeProjects", answer, "SerializationException")
    answer = post(server.url, "UpdateDatasetEntries", b" " * (8 * 1024 * 1024 + 1))
    parsed_error("UpdateDatasetEntries", answer, "RequestEntityTooLargeException", status=413)


@pytest.fixture(scope="module")
def slow_server(start_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Server:
    """A server whose jobs wait 2 s, so busy states can be seen, and with local buckets."""
    buckets = tmp_path_factory.mktemp("buckets")
    (buckets / "my-bucket").mkdir()
    (buckets / "my-bucket" / "train.manifest").write_bytes(LINES)
    return start_server("--job-delay", "2", "--local-buckets", str(buckets))


def test_busy_state_errors_parse(slow_server: Server):
    server = slow_server
    _, project = _new_project(server)
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": "my-bucket", "Name": "none"}}}
    answer = call(
        server.url,
        "CreateDataset",
        {"ProjectArn": project, "DatasetType": "TRAIN", "DatasetSource": source},
    )
    parsed_error("CreateDataset", answer, "InvalidS3ObjectException")
    source["GroundTruthManifest"]["S3Object"]["Name"] = "train.manifest"
    train = roundtrip(
        server,
        "CreateDataset",
        {"ProjectArn": project, "DatasetType": "TRAIN", "DatasetSource": source},
    )["DatasetArn"]
    test = _new_dataset(server, project, "TEST")
    # CREATE_IN_PROGRESS for the next two seconds.
    answer = call(server.url, "ListDatasetEntries", {"DatasetArn": train})
    parsed_error("ListDatasetEntries", answer, "ResourceNotReadyException")
    answer = call(server.url, "ListDatasetLabels", {"DatasetArn": train})
    parsed_error("ListDatasetLabels", answer, "ResourceNotReadyException")
    answer = call(
        server.url, "DistributeDatasetEntries", {"Datasets": [{"Arn": train}, {"Arn": test}]}
    )
    parsed_error("DistributeDatasetEntries", answer, "ResourceNotReadyException")
    answer = call(server.url, "DeleteDataset", {"DatasetArn": train})
    parsed_error("DeleteDataset", answer, "ResourceInUseException")
    assert wait_raw(server, train)["Status"] == "CREATE_COMPLETE"
    update = {"DatasetArn": train, "Changes": {"GroundTruth": b64(LINES)}}
    assert roundtrip(server, "UpdateDatasetEntries", update) == {}
    # UPDATE_IN_PROGRESS now.
    parsed_error(
        "UpdateDatasetEntries",
        call(server.url, "UpdateDatasetEntries", update),
        "ResourceInUseException",
    )
    answer = call(server.url, "ListDatasetEntries", {"DatasetArn": train})
    parsed_error("ListDatasetEntries", answer, "ResourceInUseException")
    answer = call(server.url, "DeleteProject", {"ProjectArn": project})
    parsed_error("DeleteProject", answer, "ResourceInUseException")
    assert wait_raw(server, train)["Status"] == "UPDATE_COMPLETE"


# -- the checks themselves can fail ----------------------------------------------------------

GOOD_DESCRIPTION = {
    "CreationTimestamp": 1690476084.738,
    "LastUpdatedTimestamp": 1690476085.5,
    "Status": "CREATE_COMPLETE",
    "StatusMessage": "The dataset was successfully created.",
    "StatusMessageCode": "SUCCESS",
    "DatasetStats": {"LabeledEntries": 0, "TotalEntries": 0, "TotalLabels": 0, "ErrorEntries": 0},
}


@pytest.mark.parametrize(
    "change",
    [
        {"Extra": 1},
        {"Status": "DONE"},
        {"CreationTimestamp": 1690476084},
        {"CreationTimestamp": "2023-07-27T16:41:24Z"},
        {"DatasetStats": {"LabeledEntries": "0"}},
        {"DatasetStats": {"LabeledEntries": True}},
    ],
    ids=["unknown-key", "enum", "integer-timestamp", "text-timestamp", "text-int", "bool-int"],
)
def test_the_model_check_rejects_what_botocore_would_misread(change: dict[str, Any]):
    description = {**GOOD_DESCRIPTION, **change}
    shape = operation_model("DescribeDataset").output_shape
    check_shape({"DatasetDescription": GOOD_DESCRIPTION}, shape)
    with pytest.raises(AssertionError):
        check_shape({"DatasetDescription": description}, shape)
        as_parsed({"DatasetDescription": description}, shape)
