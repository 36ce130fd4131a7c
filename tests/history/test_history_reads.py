"""Reading history through POST /_manifestdb/history/...: versions, entries and labels as they
were at a version, diffs. Each read is held to what the AWS API itself showed at that version."""

from __future__ import annotations

from typing import Any

import pytest
from history_kit import CHANGES, assert_matches, build

from support.server import new_dataset


def test_every_applied_change_is_a_version_with_its_caller_and_counts(
    rekognition: Any, history: Any
) -> None:
    _, arn = new_dataset(rekognition)
    build(rekognition, history, arn)
    versions = history.list_dataset_versions(DatasetArn=arn)["Versions"]
    assert [v["VersionNumber"] for v in versions] == [3, 2, 1, 0]
    assert [v["Kind"] for v in versions] == ["update", "update", "update", "created"]
    assert {v["Caller"] for v in versions} == {"arn:aws:iam::123456789012:root"}
    latest, second, first, start = versions
    assert (first["Counts"]["added"], first["ChangedEntries"]) == (8, 0)  # into an empty dataset
    assert (second["Counts"]["added"], second["Counts"]["replaced"]) == (2, 2)
    assert second["ChangedEntries"] == 4  # two lines before, two absences
    assert latest["Counts"]["replaced"] == 2 and latest["ChangedEntries"] == 2  # identical: none
    assert second["HistoryBytes"] > 0
    assert start["Revertible"] is False and latest["Revertible"] is True
    assert latest["DatasetStats"]["TotalEntries"] == 11
    # Pages, newest first.
    page = history.list_dataset_versions(DatasetArn=arn, MaxResults=3)
    assert [v["VersionNumber"] for v in page["Versions"]] == [3, 2, 1]
    rest = history.list_dataset_versions(DatasetArn=arn, MaxResults=3, NextToken=page["NextToken"])
    assert [v["VersionNumber"] for v in rest["Versions"]] == [0] and "NextToken" not in rest
    # The update reports name the version and the caller too.
    report = history_report(rekognition, arn)
    assert report["version"] == 3 and report["caller"] == "arn:aws:iam::123456789012:root"


def history_report(rekognition: Any, arn: str) -> dict[str, Any]:
    import urllib.parse

    import orjson
    import urllib3

    url = rekognition.meta.endpoint_url
    path = f"/_manifestdb/datasets/{urllib.parse.quote(arn, safe='')}/updates"
    body = orjson.loads(urllib3.PoolManager().request("GET", url + path).data)
    return dict(body["Updates"][0])


def test_the_dataset_at_each_version_is_what_the_api_showed_then(
    rekognition: Any, history: Any
) -> None:
    _, arn = new_dataset(rekognition)
    snaps = build(rekognition, history, arn)
    for version, snap in snaps.items():
        assert_matches(history, arn, version, snap)


def test_a_diff_names_what_was_added_removed_and_changed(rekognition: Any, history: Any) -> None:
    _, arn = new_dataset(rekognition)
    snaps = build(rekognition, history, arn)
    diff = history.diff_dataset_versions(DatasetArn=arn, FromVersion=1, ToVersion=2)
    changes = {c["SourceRef"]: c for c in diff["Changes"]}
    assert {ref: c["Change"] for ref, c in changes.items()} == {
        "s3://bkt/img/1.jpg": "CHANGED",
        "s3://bkt/img/2.jpg": "CHANGED",
        "s3://bkt/img/12.jpg": "ADDED",
        "s3://bkt/img/13.jpg": "ADDED",
    }
    one = changes["s3://bkt/img/1.jpg"]
    assert one["Before"]["label-metadata"]["class-name"] == "cat"
    assert one["After"]["label-metadata"]["class-name"] == "dog"
    assert changes["s3://bkt/img/12.jpg"]["Before"] is None
    assert diff["Summary"]["Added"] == 2 and diff["Summary"]["Changed"] == 2
    assert diff["Summary"]["LabelsBefore"] == {k: v[0] for k, v in snaps[1].labels.items()}
    assert diff["Summary"]["LabelsAfter"] == {k: v[0] for k, v in snaps[2].labels.items()}
    # Across versions, and from the empty start: everything is added.
    whole = history.diff_dataset_versions(DatasetArn=arn, FromVersion=0, ToVersion=3)
    assert whole["Summary"]["Added"] == 11 and whole["Summary"]["Changed"] == 0
    assert all(c["Change"] == "ADDED" for c in whole["Changes"])
    # Pages of changes, in source-ref order.
    first = history.diff_dataset_versions(DatasetArn=arn, FromVersion=0, ToVersion=3, MaxResults=4)
    second = history.diff_dataset_versions(
        DatasetArn=arn, FromVersion=0, ToVersion=3, MaxResults=4, NextToken=first["NextToken"]
    )
    refs = [c["SourceRef"] for c in first["Changes"] + second["Changes"]]
    assert refs == sorted(refs) and len(set(refs)) == 8
    assert len(CHANGES) == 3


@pytest.mark.parametrize(
    ("operation", "params", "code", "words"),
    [
        (
            "DescribeDatasetVersion",
            {"VersionNumber": 99},
            "ResourceNotFoundException",
            "Version 99 of dataset",
        ),
        (
            "DescribeDatasetVersion",
            {"VersionNumber": "1"},
            "ValidationException",
            "at 'VersionNumber' failed to satisfy constraint: Member must be a whole number",
        ),
        ("DescribeDatasetVersion", {}, "ValidationException", "at 'VersionNumber'"),
        (
            "ListDatasetEntriesAtVersion",
            {"VersionNumber": 1, "Labeled": "yes"},
            "ValidationException",
            "at 'Labeled'",
        ),
        (
            "ListDatasetEntriesAtVersion",
            {"VersionNumber": 1, "ContainsLabels": []},
            "ValidationException",
            "between 1 and 10 items",
        ),
        (
            "DiffDatasetVersions",
            {"FromVersion": 2, "ToVersion": 1},
            "InvalidParameterException",
            "FromVersion (2) must be lower than ToVersion (1)",
        ),
        ("ListDatasetVersions", {"Versions": 1}, "ValidationException", "Unknown member Versions"),
        (
            "ListDatasetVersions",
            {"NextToken": "forged"},
            "InvalidPaginationTokenException",
            "pagination token",
        ),
    ],
)
def test_bad_reads_get_an_aws_error_that_says_what_to_fix(
    rekognition: Any, history: Any, operation: str, params: dict[str, Any], code: str, words: str
) -> None:
    from botocore.exceptions import ClientError

    _, arn = new_dataset(rekognition, CHANGES[0])
    with pytest.raises(ClientError) as raised:
        history.call(operation, DatasetArn=arn, **params)
    error = raised.value.response["Error"]
    assert error["Code"] == code
    assert words in error["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_another_accounts_or_an_unknown_dataset_does_not_exist(history: Any) -> None:
    from botocore.exceptions import ClientError

    arn = "arn:aws:rekognition:us-east-1:123456789012:project/nope/dataset/train/1"
    with pytest.raises(ClientError) as raised:
        history.list_dataset_versions(DatasetArn=arn)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
