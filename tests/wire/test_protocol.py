"""Protocol.parse: targets, content types, bodies, and one valid request per served operation."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from wire_helpers import (
    JSON_11,
    PROJECT_ARN,
    PROTOCOL,
    SERVED,
    TEST_ARN,
    TRAIN_ARN,
    VERSION_ARN,
    error_of,
    parse,
)

from manifestdb.service.errors import ServiceError
from manifestdb.wire.protocol import Protocol

LINE = b'{"source-ref": "s3://bucket/a.jpg", "bird": 1, "bird-metadata": {}}\n'

VALID: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "CreateProject": (
        {"ProjectName": "birds_v1.2-x", "Feature": "CUSTOM_LABELS", "AutoUpdate": "DISABLED",
         "Tags": {"team": "vision", "cost center": "éa 42", "empty": ""}},
        {"ProjectName": "birds_v1.2-x", "Feature": "CUSTOM_LABELS", "AutoUpdate": "DISABLED",
         "Tags": {"team": "vision", "cost center": "éa 42", "empty": ""}},
    ),
    "DescribeProjects": (
        {"ProjectNames": ["birds"], "Features": ["CUSTOM_LABELS"], "MaxResults": 100,
         "NextToken": ""},
        {"ProjectNames": ["birds"], "Features": ["CUSTOM_LABELS"], "MaxResults": 100,
         "NextToken": ""},
    ),
    "DeleteProject": ({"ProjectArn": PROJECT_ARN}, {"ProjectArn": PROJECT_ARN}),
    "CreateDataset": (
        {"ProjectArn": PROJECT_ARN, "DatasetType": "TRAIN",
         "DatasetSource": {"GroundTruthManifest": {"S3Object": {
             "Bucket": "my-bucket", "Name": "manifests/output.manifest", "Version": "v1"}}},
         "Tags": {"k": "v"}},
        {"ProjectArn": PROJECT_ARN, "DatasetType": "TRAIN",
         "DatasetSource": {"GroundTruthManifest": {"S3Object": {
             "Bucket": "my-bucket", "Name": "manifests/output.manifest", "Version": "v1"}}},
         "Tags": {"k": "v"}},
    ),
    "DescribeDataset": ({"DatasetArn": TRAIN_ARN}, {"DatasetArn": TRAIN_ARN}),
    "DeleteDataset": ({"DatasetArn": TEST_ARN}, {"DatasetArn": TEST_ARN}),
    "UpdateDatasetEntries": (
        {"DatasetArn": TRAIN_ARN, "Changes": {"GroundTruth": base64.b64encode(LINE).decode()}},
        {"DatasetArn": TRAIN_ARN, "Changes": {"GroundTruth": LINE}},
    ),
    "ListDatasetEntries": (
        {"DatasetArn": TRAIN_ARN, "ContainsLabels": ["bird", "a b"], "Labeled": True,
         "SourceRefContains": "a.jpg", "HasErrors": False, "NextToken": "t", "MaxResults": 1},
        {"DatasetArn": TRAIN_ARN, "ContainsLabels": ["bird", "a b"], "Labeled": True,
         "SourceRefContains": "a.jpg", "HasErrors": False, "NextToken": "t", "MaxResults": 1},
    ),
    "ListDatasetLabels": (
        {"DatasetArn": TRAIN_ARN, "MaxResults": 50},
        {"DatasetArn": TRAIN_ARN, "MaxResults": 50},
    ),
    "DistributeDatasetEntries": (
        {"Datasets": [{"Arn": TRAIN_ARN}, {"Arn": TEST_ARN}]},
        {"Datasets": [{"Arn": TRAIN_ARN}, {"Arn": TEST_ARN}]},
    ),
    "TagResource": (
        {"ResourceArn": TRAIN_ARN, "Tags": {"team": "vision", "名前": "", "a b": "c:d/e=f+g-h@i"}},
        {"ResourceArn": TRAIN_ARN, "Tags": {"team": "vision", "名前": "", "a b": "c:d/e=f+g-h@i"}},
    ),
    "UntagResource": (
        {"ResourceArn": TRAIN_ARN, "TagKeys": ["team", "名前"]},
        {"ResourceArn": TRAIN_ARN, "TagKeys": ["team", "名前"]},
    ),
    "ListTagsForResource": ({"ResourceArn": TRAIN_ARN}, {"ResourceArn": TRAIN_ARN}),
    "CreateProjectVersion": (
        {"ProjectArn": PROJECT_ARN, "VersionName": "v1.0_a-b",
         "OutputConfig": {"S3Bucket": "out", "S3KeyPrefix": "models/"},
         "TestingData": {"AutoCreate": True}, "Tags": {"k": "v"}, "VersionDescription": "d"},
        {"ProjectArn": PROJECT_ARN, "VersionName": "v1.0_a-b",
         "OutputConfig": {"S3Bucket": "out", "S3KeyPrefix": "models/"},
         "TestingData": {"AutoCreate": True}, "Tags": {"k": "v"}, "VersionDescription": "d"},
    ),
    "DescribeProjectVersions": (
        {"ProjectArn": PROJECT_ARN, "VersionNames": ["v1"], "MaxResults": 100},
        {"ProjectArn": PROJECT_ARN, "VersionNames": ["v1"], "MaxResults": 100},
    ),
    "StartProjectVersion": (
        {"ProjectVersionArn": VERSION_ARN, "MinInferenceUnits": 1, "MaxInferenceUnits": 2},
        {"ProjectVersionArn": VERSION_ARN, "MinInferenceUnits": 1, "MaxInferenceUnits": 2},
    ),
    "StopProjectVersion": ({"ProjectVersionArn": VERSION_ARN}, {"ProjectVersionArn": VERSION_ARN}),
    "DeleteProjectVersion": (
        {"ProjectVersionArn": VERSION_ARN}, {"ProjectVersionArn": VERSION_ARN}
    ),
    "DetectCustomLabels": (
        {"ProjectVersionArn": VERSION_ARN,
         "Image": {"Bytes": base64.b64encode(b"\x89PNG").decode()},
         "MaxResults": 3, "MinConfidence": 55.5},
        {"ProjectVersionArn": VERSION_ARN, "Image": {"Bytes": b"\x89PNG"},
         "MaxResults": 3, "MinConfidence": 55.5},
    ),
}  # fmt: skip


def test_every_served_operation_has_a_valid_example() -> None:
    assert set(VALID) == set(SERVED)


@pytest.mark.parametrize("operation", SERVED)
def test_a_valid_request_parses_to_params_keyed_by_member_names(operation: str) -> None:
    body, expected = VALID[operation]
    assert parse(operation, body) == expected


def test_unknown_absent_and_null_members_are_ignored() -> None:
    body = {"ProjectName": "p", "Bogus": {"deep": [1]}, "Feature": None, "Tags": None}
    assert parse("CreateProject", body) == {"ProjectName": "p"}


def test_duplicate_keys_last_one_wins() -> None:
    assert parse("DescribeProjects", b'{"MaxResults": 500, "MaxResults": 5}') == {"MaxResults": 5}


# -- targets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [None, ""])
def test_missing_target_is_unknown_operation(target: str | None) -> None:
    with pytest.raises(ServiceError) as caught:
        PROTOCOL.parse(target, JSON_11, b"{}")
    assert caught.value.code == "UnknownOperationException"
    assert "X-Amz-Target" in caught.value.message


@pytest.mark.parametrize(
    "target",
    [
        "RekognitionService.",
        "RekognitionService.Bogus",
        "rekognitionservice.CreateProject",
        "RekognitionService.createProject",
        "Other.CreateProject",
        "CreateProject",
        "RekognitionService.CreateProject ",
        "x" * 10_000,
    ],
)
def test_malformed_or_unknown_target_is_unknown_operation(target: str) -> None:
    with pytest.raises(ServiceError) as caught:
        PROTOCOL.parse(target, JSON_11, b"{}")
    assert caught.value.code == "UnknownOperationException"
    assert "RekognitionService.<Operation>" in caught.value.message
    assert len(caught.value.message) < 300


@pytest.mark.parametrize("operation", ["DetectLabels", "CopyProjectVersion", "IndexFaces"])
def test_real_operation_not_served_says_what_is(operation: str) -> None:
    with pytest.raises(ServiceError) as caught:
        PROTOCOL.parse(f"RekognitionService.{operation}", JSON_11, b"{}")
    error = caught.value
    assert error.code == "UnsupportedOperationException"
    assert error.message.startswith(f"{operation} is not implemented: manifestdb serves only ")
    assert "Custom Labels project, dataset and model operations" in error.message
    assert all(name in error.message for name in SERVED)


def test_protocol_refuses_operations_the_model_does_not_have() -> None:
    with pytest.raises(ValueError, match="NoSuchOperation"):
        Protocol(["CreateProject", "NoSuchOperation"])


# -- content type -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/x-amz-json-1.1",
        "application/x-amz-json-1.0",
        "application/json",
        "Application/JSON; charset=utf-8",
        " application/x-amz-json-1.1 ;charset=UTF-8",
    ],
)
def test_json_or_missing_content_type_is_parsed(content_type: str | None) -> None:
    body = b'{"ProjectName": "p"}'
    assert PROTOCOL.parse("RekognitionService.CreateProject", content_type, body) == (
        "CreateProject",
        {"ProjectName": "p"},
    )


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
        "application/xml",
        "application/x-amz-json-1.2",
        "json",
    ],
)
def test_other_content_type_is_refused_as_aws_does(content_type: str) -> None:
    with pytest.raises(ServiceError) as caught:
        PROTOCOL.parse("RekognitionService.CreateProject", content_type, b'{"ProjectName": "p"}')
    assert caught.value.code == "UnknownOperationException"
    assert caught.value.message == (
        f"Unsupported Content-Type '{content_type}': send application/x-amz-json-1.1."
    )


# -- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   ", b"\r\n\t "])
def test_empty_body_is_serialization_exception(body: bytes) -> None:
    error = error_of("DescribeProjects", body)
    assert error.code == "SerializationException"
    assert error.message == "Could not parse the request body as JSON: the request body is empty."


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"MaxResults": 1,}',
        b'{"MaxResults": NaN}',
        b'{"MaxResults": Infinity}',
        b'{"MaxResults": -Infinity}',
        b'{"MaxResults": 1e999}',
        b"\xff\xfe{}",
        b'{"ProjectNames": ["\xc3\x28"]}',
        b'{"NextToken": "\\ud800"}',
        b"\xef\xbb\xbf{}",
        b"{} {}",
        b"// comment\n{}",
        b"[" * 100_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
    ],
)
def test_body_that_is_not_json_is_serialization_exception(body: bytes) -> None:
    error = error_of("DescribeProjects", body)
    assert error.code == "SerializationException"
    assert error.message.startswith("Could not parse the request body as JSON: ")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "Start of list found where not expected"),
        (b'[{"ProjectName": "p"}]', "Start of list found where not expected"),
        (b"null", "The request body must be a JSON object, not null: send {} when there are "
                  "no parameters."),
        (b'"x"', "The request body must be a JSON object, not a string: send {} when there are "
                 "no parameters."),
        (b"12", "The request body must be a JSON object, not a number: send {} when there are "
                "no parameters."),
        (b"true", "The request body must be a JSON object, not a boolean: send {} when there are "
                  "no parameters."),
    ],
)  # fmt: skip
def test_body_that_is_not_an_object_is_serialization_exception(body: bytes, message: str) -> None:
    error = error_of("DescribeProjects", body)
    assert (error.code, error.message) == ("SerializationException", message)


def test_deeply_nested_values_in_unknown_members_are_ignored() -> None:
    body = b'{"ProjectName": "p", "Deep": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert parse("CreateProject", body) == {"ProjectName": "p"}


def test_deeply_nested_value_in_a_list_member_is_serialization_exception() -> None:
    deep = b"[" * 1000 + b"]" * 1000
    body = b'{"ProjectNames": [' + b", ".join([deep] * 11) + b"]}"
    error = error_of("DescribeProjects", body)
    assert (error.code, error.message) == (
        "SerializationException",
        "Start of list found where not expected",
    )


def test_huge_body_of_valid_json_parses() -> None:
    data = b"x" * 5_242_880
    body = orjson.dumps(
        {"DatasetArn": TRAIN_ARN, "Changes": {"GroundTruth": base64.b64encode(data).decode()}}
    )
    assert parse("UpdateDatasetEntries", body)["Changes"]["GroundTruth"] == data
