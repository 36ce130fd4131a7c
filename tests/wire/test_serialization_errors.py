"""JSON values that cannot be their shape: SerializationException, in AWS's (Coral's) words.

AWS's wording, measured against Athena (JSON 1.1, the same framework) and quoted in public
emulator test suites: `STRING_VALUE can not be converted to an Integer`, `TRUE_VALUE can not be
converted to an Integer`, `NUMBER_VALUE can not be converted to a String`, `Start of list found
where not expected`, `Start of structure or map found where not expected.`, `Expected list or
null`, `Expected null`; and a type error wins over any constraint failure.
"""

from __future__ import annotations

from typing import Any

import pytest
from wire_helpers import TRAIN_ARN, error_of

LIST = "Start of list found where not expected"
OBJECT = "Start of structure or map found where not expected."


def serialization_message(operation: str, body: Any) -> str:
    error = error_of(operation, body)
    assert error.code == "SerializationException", error.message
    return error.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1", "STRING_VALUE can not be converted to an Integer"),
        (True, "TRUE_VALUE can not be converted to an Integer"),
        (False, "FALSE_VALUE can not be converted to an Integer"),
        (1.5, "NUMBER_VALUE can not be converted to an Integer"),
        (10.0, "NUMBER_VALUE can not be converted to an Integer"),
        (1e30, "NUMBER_VALUE can not be converted to an Integer"),
        ([1], LIST),
        ({"a": 1}, OBJECT),
    ],
)
def test_integer_member(value: Any, message: str) -> None:
    assert serialization_message("DescribeProjects", {"MaxResults": value}) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1, "NUMBER_VALUE can not be converted to a String"),
        (1.5, "NUMBER_VALUE can not be converted to a String"),
        (True, "TRUE_VALUE can not be converted to a String"),
        (["p"], LIST),
        ({}, OBJECT),
    ],
)
def test_string_member(value: Any, message: str) -> None:
    assert serialization_message("CreateProject", {"ProjectName": value}) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("true", "STRING_VALUE can not be converted to a Boolean"),
        (1, "NUMBER_VALUE can not be converted to a Boolean"),
        ([True], LIST),
    ],
)
def test_boolean_member(value: Any, message: str) -> None:
    body = {"DatasetArn": TRAIN_ARN, "Labeled": value}
    assert serialization_message("ListDatasetEntries", body) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [("p", "Expected list or null"), (3, "Expected list or null"), ({"a": "p"}, OBJECT)],
)
def test_list_member(value: Any, message: str) -> None:
    assert serialization_message("DescribeProjects", {"ProjectNames": value}) == message


def test_list_item_of_the_wrong_type() -> None:
    body = {"ProjectNames": ["ok", 5]}
    assert serialization_message("DescribeProjects", body) == (
        "NUMBER_VALUE can not be converted to a String"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("k=v", "Expected map or null"),
        (["k"], LIST),
        ({"k": 1}, "NUMBER_VALUE can not be converted to a String"),
        ({"k": ["v"]}, LIST),
    ],
)
def test_map_member(value: Any, message: str) -> None:
    assert serialization_message("CreateProject", {"ProjectName": "p", "Tags": value}) == message


@pytest.mark.parametrize(
    ("value", "message"), [("x", "Expected null"), (0, "Expected null"), ([{}], LIST)]
)
def test_structure_member(value: Any, message: str) -> None:
    body = {"DatasetArn": TRAIN_ARN, "Changes": value}
    assert serialization_message("UpdateDatasetEntries", body) == message


def test_structure_list_item() -> None:
    body = {"Datasets": ["arn", "arn"]}
    assert serialization_message("DistributeDatasetEntries", body) == "Expected null"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "NUMBER_VALUE can not be converted to a Blob"),
        (["eyJ9"], LIST),
        ("eyJ", "Base64 encoded length is expected a multiple of 4 bytes but found: 3"),
        ("ey!9", "Invalid Base64 character: '!'"),
        ("ey J", "Invalid Base64 character: ' '"),
        ("eyJ9\n", "Base64 encoded length is expected a multiple of 4 bytes but found: 5"),
        ("eyJ9\n\n\n\n", "Invalid Base64 character: '\\n'"),
        ("eé==", "Invalid Base64 character: 'é'"),
        ("e=J9", "Invalid Base64 character: '='"),
        ("e===", "Invalid Base64 padding"),
        ("ey-_", "Invalid Base64 character: '-'"),
    ],
)
def test_blob_member(value: Any, message: str) -> None:
    body = {"DatasetArn": TRAIN_ARN, "Changes": {"GroundTruth": value}}
    expected = message
    if not message.startswith(("Start", "NUMBER")):
        expected = f"Value at 'changes.groundTruth' can not be converted to a Blob: {message}"
    assert serialization_message("UpdateDatasetEntries", body) == expected


def test_invalid_base64_is_never_echoed() -> None:
    value = "A" * 7_000_001
    message = serialization_message(
        "UpdateDatasetEntries", {"DatasetArn": TRAIN_ARN, "Changes": {"GroundTruth": value}}
    )
    assert len(message) < 200


def test_type_error_wins_over_an_earlier_constraint_failure() -> None:
    body = {"NextToken": "x" * 2000, "MaxResults": "1"}
    assert serialization_message("DescribeProjects", body) == (
        "STRING_VALUE can not be converted to an Integer"
    )


def test_type_error_wins_over_a_missing_required_member() -> None:
    body = {"Changes": {"GroundTruth": 1}}
    assert serialization_message("UpdateDatasetEntries", body) == (
        "NUMBER_VALUE can not be converted to a Blob"
    )
