"""Responses: what `serialize` and `error_body` write, read back with botocore's own JSON parser."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from botocore.model import ShapeResolver
from botocore.parsers import create_parser
from wire_helpers import PROJECT_ARN, PROTOCOL, SERVED, TEST_ARN, TRAIN_ARN, VERSION_ARN

from manifestdb.service.errors import (
    InternalServerError,
    ResourceNotFoundException,
    ServiceError,
    ValidationException,
)
from manifestdb.wire.output import OutputCompiler
from manifestdb.wire.protocol import rekognition_model

CREATED = datetime(2023, 7, 27, 16, 41, 24, 738000, tzinfo=UTC)
UPDATED = datetime(2023, 7, 28, 9, 0, 0, 1000, tzinfo=timezone(timedelta(hours=2)))
LINES = [
    json.dumps({"source-ref": f"s3://bucket/{i}.jpg", "bird": 1, "bird-metadata": {
        "confidence": 1, "job-name": "labeling", "class-name": "bird", "human-annotated": "yes",
        "creation-date": "2023-07-27T16:41:24.738", "type": "groundtruth/image-classification"}})
    for i in range(100)
]  # fmt: skip
DATASET = {
    "CreationTimestamp": CREATED,
    "DatasetType": "TRAIN",
    "DatasetArn": TRAIN_ARN,
    "Status": "CREATE_COMPLETE",
    "StatusMessage": "The dataset was successfully created.",
    "StatusMessageCode": "SUCCESS",
}
MANIFEST = {"GroundTruthManifest": {"S3Object": {"Bucket": "out", "Name": "m/train.manifest"}}}
OUTPUTS: dict[str, dict[str, Any]] = {
    "CreateProject": {"ProjectArn": PROJECT_ARN},
    "DescribeProjects": {
        "ProjectDescriptions": [
            {"ProjectArn": PROJECT_ARN, "CreationTimestamp": CREATED, "Status": "CREATED",
             "Feature": "CUSTOM_LABELS", "Datasets": [DATASET, {**DATASET, "DatasetType": "TEST",
                                                              "DatasetArn": TEST_ARN}]},
            {"ProjectArn": PROJECT_ARN.replace("birds", "cats"), "CreationTimestamp": UPDATED,
             "Status": "CREATING", "Feature": "CUSTOM_LABELS", "Datasets": []},
        ],
        "NextToken": "opaque.token-1",
    },
    "DeleteProject": {"Status": "DELETING"},
    "CreateDataset": {"DatasetArn": TRAIN_ARN},
    "DescribeDataset": {
        "DatasetDescription": {
            "CreationTimestamp": CREATED,
            "LastUpdatedTimestamp": UPDATED,
            "Status": "UPDATE_FAILED",
            "StatusMessage": "The manifest file contains images from multiple S3 buckets.",
            "StatusMessageCode": "CLIENT_ERROR",
            "DatasetStats": {"LabeledEntries": 3, "TotalEntries": 4, "TotalLabels": 2,
                             "ErrorEntries": 0},
        }
    },
    "DeleteDataset": {},
    "UpdateDatasetEntries": {},
    "ListDatasetEntries": {"DatasetEntries": LINES, "NextToken": "n" * 1024},
    "ListDatasetLabels": {
        "DatasetLabelDescriptions": [
            {"LabelName": "bird", "LabelStats": {"EntryCount": 3, "BoundingBoxCount": 0}},
            {"LabelName": "名前 x", "LabelStats": {"EntryCount": 1, "BoundingBoxCount": 1}},
        ]
    },
    "DistributeDatasetEntries": {},
    "TagResource": {},
    "UntagResource": {},
    "ListTagsForResource": {"Tags": {"team": "vision", "名前": ""}},
    "CreateProjectVersion": {"ProjectVersionArn": VERSION_ARN},
    "DescribeProjectVersions": {
        "ProjectVersionDescriptions": [
            {"ProjectVersionArn": VERSION_ARN, "CreationTimestamp": CREATED,
             "MinInferenceUnits": 1, "Status": "RUNNING", "StatusMessage": "The model is running.",
             "BillableTrainingTimeInSeconds": 42, "TrainingEndTimestamp": UPDATED,
             "OutputConfig": {"S3Bucket": "out", "S3KeyPrefix": "models/"},
             "TrainingDataResult": {"Input": {"Assets": [MANIFEST]},
                                    "Output": {"Assets": [MANIFEST]}},
             "TestingDataResult": {"Input": {"Assets": [MANIFEST], "AutoCreate": False},
                                   "Output": {"Assets": [MANIFEST]}},
             "EvaluationResult": {"F1Score": 0.9375, "Summary": {"S3Object": {
                 "Bucket": "out", "Name": "models/EvaluationSummary-birds-v1.json"}}},
             "ManifestSummary": {"S3Object": {"Bucket": "out", "Name": "s.json"}},
             "MaxInferenceUnits": 2, "VersionDescription": "d", "Feature": "CUSTOM_LABELS"},
        ],
        "NextToken": "t",
    },
    "StartProjectVersion": {"Status": "STARTING"},
    "StopProjectVersion": {"Status": "STOPPING"},
    "DeleteProjectVersion": {"Status": "DELETING"},
    "DetectCustomLabels": {
        "CustomLabels": [
            {"Name": "bird", "Confidence": 98.25},
            {"Name": "名前", "Confidence": 12.5, "Geometry": {"BoundingBox": {
                "Width": 0.25, "Height": 0.5, "Left": 0.125, "Top": 0.0}}},
        ]
    },
}  # fmt: skip


def botocore_reads(operation: str, body: bytes, status: int = 200) -> dict[str, Any]:
    """What boto3 would return for this response body."""
    output_shape = rekognition_model().operation_model(operation).output_shape
    response = {"body": body, "headers": {"x-amzn-requestid": "r"}, "status_code": status}
    parsed: dict[str, Any] = create_parser("json").parse(response, output_shape)
    parsed.pop("ResponseMetadata")
    return parsed


def test_every_served_operation_has_an_example_output() -> None:
    assert set(OUTPUTS) == set(SERVED)


@pytest.mark.parametrize("operation", SERVED)
def test_botocore_reads_back_what_was_serialized(operation: str) -> None:
    output = OUTPUTS[operation]
    assert botocore_reads(operation, PROTOCOL.serialize(operation, output)) == output


def test_timestamps_are_epoch_seconds_with_a_fraction() -> None:
    body = PROTOCOL.serialize("DescribeProjects", OUTPUTS["DescribeProjects"])
    assert b'"CreationTimestamp":1690476084.738' in body
    whole = {"ProjectDescriptions": [{"CreationTimestamp": 1690476084}]}
    assert PROTOCOL.serialize("DescribeProjects", whole) == (
        b'{"ProjectDescriptions":[{"CreationTimestamp":1690476084.0}]}'
    )
    precise = {"ProjectDescriptions": [{"CreationTimestamp": 1690476084.7384999}]}
    assert b"1690476084.738}" in PROTOCOL.serialize("DescribeProjects", precise)


def test_none_members_are_left_out_and_empty_output_is_an_empty_object() -> None:
    assert PROTOCOL.serialize("ListDatasetEntries", {"DatasetEntries": [], "NextToken": None}) == (
        b'{"DatasetEntries":[]}'
    )
    assert PROTOCOL.serialize("DeleteDataset", {}) == b"{}"


def test_entries_are_strings_in_the_json_not_objects() -> None:
    body = PROTOCOL.serialize("ListDatasetEntries", {"DatasetEntries": LINES[:1]})
    assert orjson.loads(body) == {"DatasetEntries": [LINES[0]]}


def test_programming_errors_in_output_are_not_hidden() -> None:
    with pytest.raises(ValueError, match="no member 'Bogus'"):
        PROTOCOL.serialize("CreateProject", {"Bogus": 1})
    naive = {"ProjectDescriptions": [{"CreationTimestamp": datetime(2023, 1, 1)}]}
    with pytest.raises(ValueError, match="naive datetime"):
        PROTOCOL.serialize("DescribeProjects", naive)


def test_blobs_maps_and_nested_timestamps_of_any_shape() -> None:
    resolver = ShapeResolver(
        {
            "Out": {"type": "structure", "members": {"B": {"shape": "Blob"}, "M": {"shape": "Map"},
                                                     "L": {"shape": "List"}}},
            "Blob": {"type": "blob"},
            "Map": {"type": "map", "key": {"shape": "Text"}, "value": {"shape": "Time"}},
            "List": {"type": "list", "member": {"shape": "Out"}},
            "Text": {"type": "string"},
            "Time": {"type": "timestamp"},
        }
    )  # fmt: skip
    write = OutputCompiler().compile(resolver.get_shape_by_name("Out"))
    value = {"B": b"\x00\xff", "M": {"a": CREATED}, "L": [{"B": b"x", "L": []}]}
    assert write(value) == {"B": "AP8=", "M": {"a": 1690476084.738}, "L": [{"B": "eA==", "L": []}]}


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ValidationException("1 validation error detected: Value null at 'x' ..."),
        ResourceNotFoundException("The dataset does not exist."),
        InternalServerError("An internal error occurred."),
    ],
)
def test_error_body_is_read_by_botocore(error: ServiceError) -> None:
    request_id = str(uuid.uuid4())
    body = PROTOCOL.error_body(error, request_id)
    assert orjson.loads(body) == {
        "__type": error.code,
        "Message": error.message,
        "Code": error.code,
        "Logref": request_id,
    }
    parsed = botocore_reads("DescribeDataset", body, status=error.status)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["Error"]["Message"] == error.message


def test_error_body_without_request_id_gets_a_fresh_logref() -> None:
    body = orjson.loads(PROTOCOL.error_body(ResourceNotFoundException("gone"), ""))
    assert uuid.UUID(body["Logref"])
