"""Input constraints: every kind gives AWS's ValidationException message, word for word.

Forms checked against AWS answers quoted in public sources (see wire/messages.py):
`Value null at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member
must not be null`, `Value '[]' at 'keySchema' ... length greater than or equal to 1`, `Value at
'maxResults' ... less than or equal to 50` (an int overflow: no value), `Map keys must satisfy
constraint: [Member must have length less than or equal to 64, ..., Member must satisfy regular
expression pattern: ...]`.
"""

from __future__ import annotations

import base64

import pytest
from wire_helpers import TRAIN_ARN, parse, validation_message

PREFIX_1 = "1 validation error detected: "
NAME_PATTERN = r"Member must satisfy regular expression pattern: [a-zA-Z0-9_.\-]+"
DATASET_ARN_PATTERN = (
    r"Member must satisfy regular expression pattern: (^arn:[a-z\d-]+:rekognition:[a-z\d-]+:"
    r"\d{12}:project\/[a-zA-Z0-9_.\-]{1,255}\/dataset\/(train|test)\/[0-9]+$)"
)
TAG_KEY_RULES = (
    "[Member must have length less than or equal to 128, Member must have length greater than or "
    "equal to 1, Member must satisfy regular expression pattern: "
    r"^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]*$]"
)
TAG_VALUE_RULES = (
    "Member must have length less than or equal to 256, Member must have length greater than or "
    r"equal to 0, Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
)


def one(value: str | None, path: str, phrase: str) -> str:
    shown = "Value" if value is None else f"Value {value}"
    return f"{PREFIX_1}{shown} at '{path}' failed to satisfy constraint: {phrase}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- required ---------------------------------------------------------------------------------


def test_missing_required_member() -> None:
    assert validation_message("CreateProject", {}) == one(
        "null", "projectName", "Member must not be null"
    )


def test_null_required_member_is_missing() -> None:
    assert validation_message("DeleteProject", {"ProjectArn": None}) == one(
        "null", "projectArn", "Member must not be null"
    )


def test_missing_required_members_are_all_listed_in_model_order() -> None:
    assert validation_message("UpdateDatasetEntries", {}) == (
        "2 validation errors detected: "
        "Value null at 'datasetArn' failed to satisfy constraint: Member must not be null; "
        "Value null at 'changes' failed to satisfy constraint: Member must not be null"
    )


def test_nested_required_member_changes_ground_truth() -> None:
    body = {"DatasetArn": TRAIN_ARN, "Changes": {}}
    assert validation_message("UpdateDatasetEntries", body) == one(
        "null", "changes.groundTruth", "Member must not be null"
    )


def test_required_member_of_list_items_datasets_arn() -> None:
    body = {"Datasets": [{}, {"Arn": None, "Other": 1}]}
    assert validation_message("DistributeDatasetEntries", body) == (
        "2 validation errors detected: "
        "Value null at 'datasets.1.member.arn' failed to satisfy constraint: "
        "Member must not be null; "
        "Value null at 'datasets.2.member.arn' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_null_list_item() -> None:
    assert validation_message("DescribeProjects", {"ProjectNames": [None]}) == one(
        "null", "projectNames.1.member", "Member must not be null"
    )


# -- strings ----------------------------------------------------------------------------------


def test_string_too_short_and_not_matching_gives_two_errors() -> None:
    assert validation_message("CreateProject", {"ProjectName": ""}) == (
        "2 validation errors detected: "
        "Value '' at 'projectName' failed to satisfy constraint: Member must have length greater "
        "than or equal to 1; "
        f"Value '' at 'projectName' failed to satisfy constraint: {NAME_PATTERN}"
    )


def test_string_too_long() -> None:
    name = "a" * 256
    assert validation_message("CreateProject", {"ProjectName": name}) == one(
        f"'{name}'", "projectName", "Member must have length less than or equal to 255"
    )


def test_length_counts_characters_not_bytes() -> None:
    assert parse("ListDatasetEntries", {"DatasetArn": TRAIN_ARN, "ContainsLabels": ["é" * 255]})


def test_long_values_are_cut_in_messages() -> None:
    name = "x" * 1000 + "!"
    message = validation_message("CreateProject", {"ProjectName": name})
    assert message.startswith(f"2 validation errors detected: Value '{'x' * 256}...' at ")
    assert len(message) < 1000


@pytest.mark.parametrize("name", ["abc!", "!abc", "a b", "abc\n", "été"])
def test_pattern_must_match_the_whole_value(name: str) -> None:
    assert validation_message("CreateProject", {"ProjectName": name}) == one(
        f"'{name}'", "projectName", NAME_PATTERN
    )


def test_arn_pattern_with_trailing_text() -> None:
    arn = TRAIN_ARN + "/extra"
    assert validation_message("DescribeDataset", {"DatasetArn": arn}) == one(
        f"'{arn}'", "datasetArn", DATASET_ARN_PATTERN
    )


@pytest.mark.parametrize("query", ["   ", "\t", "a\r"])
def test_java_pattern_semantics_whitespace_and_line_terminators(query: str) -> None:
    message = validation_message(
        "ListDatasetEntries", {"DatasetArn": TRAIN_ARN, "SourceRefContains": query}
    )
    assert message.endswith(r"Member must satisfy regular expression pattern: .*\S.*")


def test_enum() -> None:
    body = {"ProjectArn": "arn:aws:rekognition:us-east-1:123456789012:project/p/1"}
    assert validation_message("CreateDataset", {**body, "DatasetType": "VALIDATION"}) == one(
        "'VALIDATION'", "datasetType", "Member must satisfy enum value set: [TRAIN, TEST]"
    )


def test_enum_in_a_list() -> None:
    assert validation_message("DescribeProjects", {"Features": ["LABELS"]}) == one(
        "'LABELS'",
        "features.1.member",
        "Member must satisfy enum value set: [CONTENT_MODERATION, CUSTOM_LABELS]",
    )


def test_deep_path_is_lower_camel_dotted() -> None:
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": "ab", "Name": "m"}}}
    body = {"ProjectArn": "arn:aws:rekognition:us-east-1:123456789012:project/p/1",
            "DatasetType": "TEST", "DatasetSource": source}  # fmt: skip
    assert validation_message("CreateDataset", body) == one(
        "'ab'",
        "datasetSource.groundTruthManifest.s3Object.bucket",
        "Member must have length greater than or equal to 3",
    )


# -- integers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        (101, "Member must have value less than or equal to 100"),
        (0, "Member must have value greater than or equal to 1"),
        (-5, "Member must have value greater than or equal to 1"),
    ],
)
def test_integer_range(value: int, phrase: str) -> None:
    assert validation_message("DescribeProjects", {"MaxResults": value}) == one(
        f"'{value}'", "maxResults", phrase
    )


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        (2**31, "Member must have value less than or equal to 100"),
        (2**64 - 1, "Member must have value less than or equal to 100"),
        (-(2**31) - 1, "Member must have value greater than or equal to 1"),
    ],
)
def test_integer_beyond_java_int_shows_no_value(value: int, phrase: str) -> None:
    body = f'{{"MaxResults": {value}}}'.encode()
    assert validation_message("ListDatasetLabels", body[:-1] + b', "DatasetArn": "%s"}' % (
        TRAIN_ARN.encode())) == one(None, "maxResults", phrase)  # fmt: skip


def test_integer_limits_are_inclusive() -> None:
    for value in (1, 100):
        assert parse("DescribeProjects", {"MaxResults": value}) == {"MaxResults": value}


# -- lists and maps ---------------------------------------------------------------------------


def test_list_too_short() -> None:
    assert validation_message("DescribeProjects", {"ProjectNames": []}) == one(
        "'[]'", "projectNames", "Member must have length greater than or equal to 1"
    )


def test_list_too_long_shows_it_as_java_does() -> None:
    names = [f"p{i}" for i in range(11)]
    assert validation_message("DescribeProjects", {"ProjectNames": names}) == one(
        f"'[{', '.join(names)}]'",
        "projectNames",
        "Member must have length less than or equal to 10",
    )


def test_list_of_exactly_two_datasets_shown_cut_at_256_characters() -> None:
    items = [{"Arn": TRAIN_ARN}] * 3
    text = f"[{{Arn={TRAIN_ARN}}}, {{Arn={TRAIN_ARN}}}, {{Arn={TRAIN_ARN}}}]"
    assert validation_message("DistributeDatasetEntries", {"Datasets": items}) == one(
        f"'{text[:256]}...'",
        "datasets",
        "Member must have length less than or equal to 2",
    )


def test_list_item_constraint() -> None:
    assert validation_message("DescribeProjects", {"ProjectNames": ["ok", "not ok"]}) == one(
        "'not ok'", "projectNames.2.member", NAME_PATTERN
    )


def test_map_too_long() -> None:
    tags = {f"k{i}": "v" for i in range(201)}
    message = validation_message("CreateProject", {"ProjectName": "p", "Tags": tags})
    assert message.startswith(f"{PREFIX_1}Value '{{k0=v, k1=v, k2=v")
    assert message.endswith(
        "...' at 'tags' failed to satisfy constraint: Member must have length less than or equal "
        "to 200"
    )


@pytest.mark.parametrize("key", ["aws:team", "", "k" * 129, "a!b"])
def test_map_keys_one_error_listing_every_key_rule(key: str) -> None:
    tags = {"ok": "v", key: "v"}
    shown = f"'{{ok=v, {key}=v}}'"
    assert validation_message("CreateProject", {"ProjectName": "p", "Tags": tags}) == one(
        shown, "tags", f"Map keys must satisfy constraint: {TAG_KEY_RULES}"
    )


def test_map_values_one_error_for_all_bad_values() -> None:
    tags = {"a": "x!", "b": "y!"}
    assert validation_message("CreateProject", {"ProjectName": "p", "Tags": tags}) == one(
        "'{a=x!, b=y!}'", "tags", f"Map value must satisfy constraint: [{TAG_VALUE_RULES}]"
    )


def test_map_null_value() -> None:
    assert validation_message("CreateProject", {"ProjectName": "p", "Tags": {"a": None}}) == one(
        "'{a=null}'",
        "tags",
        f"Map value must satisfy constraint: [{TAG_VALUE_RULES}, Member must not be null]",
    )


def test_map_keys_then_values() -> None:
    tags = {"aws:x": "bad!"}
    assert validation_message("CreateProject", {"ProjectName": "p", "Tags": tags}) == (
        "2 validation errors detected: "
        f"Value '{{aws:x=bad!}}' at 'tags' failed to satisfy constraint: Map keys must satisfy "
        f"constraint: {TAG_KEY_RULES}; "
        f"Value '{{aws:x=bad!}}' at 'tags' failed to satisfy constraint: Map value must satisfy "
        f"constraint: [{TAG_VALUE_RULES}]"
    )


def test_unicode_letters_numbers_and_spaces_are_valid_tag_text() -> None:
    tags = {"Ünïcödé 名前 ٣": "値 ½ x\u2003y", "a_.:/=+-@": ""}
    assert parse("CreateProject", {"ProjectName": "p", "Tags": tags})["Tags"] == tags


# -- blobs ------------------------------------------------------------------------------------


def test_blob_is_decoded() -> None:
    body = {"DatasetArn": TRAIN_ARN, "Changes": {"GroundTruth": b64(b"\x00\xff{}")}}
    assert parse("UpdateDatasetEntries", body)["Changes"] == {"GroundTruth": b"\x00\xff{}"}


def test_blob_empty_is_too_short_and_not_echoed() -> None:
    """AWS's message, then manifestdb's hint of what to send (paws sends an empty change)."""
    body = {"DatasetArn": TRAIN_ARN, "Changes": {"GroundTruth": ""}}
    aws = one(None, "changes.groundTruth", "Member must have length greater than or equal to 1")
    message = validation_message("UpdateDatasetEntries", body)
    assert message.startswith(aws + ". The change received is empty (0 bytes): send the")


def test_blob_size_limit_is_on_decoded_bytes() -> None:
    limit = 5_242_880
    fits = {"DatasetArn": TRAIN_ARN, "Changes": {"GroundTruth": b64(b"a" * limit)}}
    assert len(parse("UpdateDatasetEntries", fits)["Changes"]["GroundTruth"]) == limit
    over = {"DatasetArn": TRAIN_ARN, "Changes": {"GroundTruth": b64(b"a" * (limit + 1))}}
    assert validation_message("UpdateDatasetEntries", over) == one(
        None, "changes.groundTruth", "Member must have length less than or equal to 5242880"
    )


# -- several errors ---------------------------------------------------------------------------


def test_several_errors_across_members() -> None:
    assert validation_message("UpdateDatasetEntries", {"DatasetArn": "x", "Changes": {}}) == (
        "3 validation errors detected: "
        "Value 'x' at 'datasetArn' failed to satisfy constraint: Member must have length greater "
        "than or equal to 20; "
        f"Value 'x' at 'datasetArn' failed to satisfy constraint: {DATASET_ARN_PATTERN}; "
        "Value null at 'changes.groundTruth' failed to satisfy constraint: Member must not be null"
    )


def test_at_most_ten_errors_are_listed() -> None:
    names = [f"bad name {i}" for i in range(10)]
    message = validation_message("DescribeProjects", {"ProjectNames": names, "MaxResults": 0})
    assert message.startswith("10 validation errors detected: Value '0' at 'maxResults' ")
    assert message.count("failed to satisfy constraint") == 10
    assert "projectNames.9.member" in message
    assert "projectNames.10.member" not in message
