"""Changing history's way: reverting a version, restoring a dataset to one, deleting entries.
Each is a job with UpdateDatasetEntries' status machine and is itself a new version."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from history_kit import CHANGES, assert_matches, build, history_client, snapshot

from support.lines import image_line, manifest
from support.server import all_entries, new_dataset, wait_for_status


def versions(history: Any, arn: str) -> list[dict[str, Any]]:
    return list(history.paginate("ListDatasetVersions", "Versions", DatasetArn=arn))


def error_of(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    return dict(
        raised.value.response["Error"],
        status=raised.value.response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_reverting_the_latest_update_gives_back_the_dataset_before_it(
    rekognition: Any, history: Any
) -> None:
    _, arn = new_dataset(rekognition)
    snaps = build(rekognition, history, arn)
    history.revert_dataset_version(DatasetArn=arn, VersionNumber=3)
    assert wait_for_status(rekognition, arn)["Status"] == "UPDATE_COMPLETE"
    assert snapshot(rekognition, arn) == snaps[2]  # entries in the same order, labels, stats
    latest = versions(history, arn)[0]
    assert (latest["VersionNumber"], latest["Kind"]) == (4, "revert")
    assert latest["Counts"] == {"added": 0, "replaced": 1, "removed": 1}  # img/1 back, img/14 out
    # A revert is a version like any other: reverting it applies version 3 again.
    history.revert_dataset_version(DatasetArn=arn, VersionNumber=4)
    wait_for_status(rekognition, arn)
    assert snapshot(rekognition, arn) == snaps[3]
    # And every earlier state is still readable.
    for version, snap in snaps.items():
        assert_matches(history, arn, version, snap)


def test_a_revert_over_later_changes_is_refused_unless_forced(
    rekognition: Any, history: Any
) -> None:
    _, arn = new_dataset(rekognition)
    build(rekognition, history, arn)
    # Version 3 changed img/1.jpg again: version 2 cannot be undone on its own.
    error = error_of(history.revert_dataset_version, DatasetArn=arn, VersionNumber=2)
    assert (error["Code"], error["status"]) == ("ConflictException", 409)
    assert "changed 1 of the entries it changed (s3://bkt/img/1.jpg)" in error["Message"]
    assert "Force=true" in error["Message"] and "version 1" in error["Message"]
    assert versions(history, arn)[0]["VersionNumber"] == 3  # nothing was queued
    assert rekognition.describe_dataset(DatasetArn=arn)["DatasetDescription"]["Status"] == (
        "UPDATE_COMPLETE"
    )
    history.revert_dataset_version(DatasetArn=arn, VersionNumber=2, Force=True)
    wait_for_status(rekognition, arn)
    lines = {e["source-ref"]: e for e in all_entries(rekognition, arn)}
    assert lines["s3://bkt/img/1.jpg"]["label-metadata"]["class-name"] == "cat"  # as at 1
    assert "s3://bkt/img/12.jpg" not in lines and "s3://bkt/img/13.jpg" not in lines
    assert "s3://bkt/img/14.jpg" in lines  # version 3's own addition stays


def test_restoring_to_a_version_gives_back_its_entries_in_their_order(
    rekognition: Any, history: Any
) -> None:
    _, arn = new_dataset(rekognition)
    snaps = build(rekognition, history, arn)
    history.restore_dataset_version(DatasetArn=arn, VersionNumber=1)
    wait_for_status(rekognition, arn)
    assert snapshot(rekognition, arn) == snaps[1]
    assert versions(history, arn)[0]["Kind"] == "restore"
    # Back to the empty start, then forward again to version 3.
    history.restore_dataset_version(DatasetArn=arn, VersionNumber=0)
    wait_for_status(rekognition, arn)
    assert snapshot(rekognition, arn) == snaps[0]
    history.restore_dataset_version(DatasetArn=arn, VersionNumber=3)
    wait_for_status(rekognition, arn)
    assert snapshot(rekognition, arn) == snaps[3]
    error = error_of(history.restore_dataset_version, DatasetArn=arn, VersionNumber=6)
    assert (
        error["Code"] == "InvalidParameterException"
        and "at version 6 already: restore an older one (0 to 5)" in (error["Message"])
    )
    # A dataset with only its first version has nothing older: the message says so.
    _, fresh = new_dataset(rekognition)
    error = error_of(history.restore_dataset_version, DatasetArn=fresh, VersionNumber=0)
    assert error["Message"] == (
        "The dataset is at version 0 already: it has no older version to restore."
    ), error


def test_deleting_entries_by_source_ref_and_by_filter(rekognition: Any, history: Any) -> None:
    _, arn = new_dataset(rekognition)
    build(rekognition, history, arn)
    before = {e["source-ref"] for e in all_entries(rekognition, arn)}
    history.delete_dataset_entries(
        DatasetArn=arn, SourceRefs=["s3://bkt/img/0.jpg", "s3://bkt/img/nothing.jpg"]
    )
    assert wait_for_status(rekognition, arn)["DatasetStats"]["TotalEntries"] == len(before) - 1
    latest = versions(history, arn)[0]
    assert (latest["Kind"], latest["Counts"]["removed"]) == ("delete_entries", 1)
    # Every entry with errors (AWS cannot do this: users recreate the dataset).
    assert all_entries(rekognition, arn, HasErrors=True)
    history.delete_dataset_entries(DatasetArn=arn, Filter={"HasErrors": True})
    description = wait_for_status(rekognition, arn)
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["DatasetStats"]["ErrorEntries"] == 0
    assert all_entries(rekognition, arn, HasErrors=True) == []
    after = {e["source-ref"] for e in all_entries(rekognition, arn)}
    assert after == before - {"s3://bkt/img/0.jpg", "s3://bkt/img/13.jpg"}
    # A deletion is a version: reverting it brings the entry back.
    history.revert_dataset_version(DatasetArn=arn, VersionNumber=latest["VersionNumber"] + 1)
    wait_for_status(rekognition, arn)
    assert all_entries(rekognition, arn, HasErrors=True)[0]["source-ref"] == "s3://bkt/img/13.jpg"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"Filter": {"ContainsLabels": ["unicorn"]}}, "matches no entry of the dataset"),
        ({"SourceRefs": ["s3://bkt/nope.jpg"]}, "None of the 1 source-refs is an entry"),
        ({"Filter": {}}, "Filter is empty"),
        ({}, "Send exactly one of SourceRefs"),
        ({"SourceRefs": ["s3://bkt/img/0.jpg"], "Filter": {"Labeled": True}}, "exactly one"),
    ],
)
def test_a_deletion_that_deletes_nothing_makes_no_version(
    rekognition: Any, history: Any, params: dict[str, Any], words: str
) -> None:
    _, arn = new_dataset(rekognition, CHANGES[0])
    error = error_of(history.delete_dataset_entries, DatasetArn=arn, **params)
    assert (error["Code"], error["status"]) == ("InvalidParameterException", 400)
    assert words in error["Message"]
    assert [v["VersionNumber"] for v in versions(history, arn)] == [1, 0]


def test_history_changes_wait_for_a_dataset_that_is_busy(
    start_server: Any,
) -> None:
    server = start_server("--job-delay", "1.5")
    client, history = server.client(), history_client(server)
    _, arn = new_dataset(client, CHANGES[0])
    client.update_dataset_entries(
        DatasetArn=arn, Changes={"GroundTruth": manifest(image_line("s3://bkt/img/1.jpg", "x"))}
    )
    for call, params in (
        (history.revert_dataset_version, {"VersionNumber": 1}),
        (history.restore_dataset_version, {"VersionNumber": 0}),
        (history.delete_dataset_entries, {"SourceRefs": ["s3://bkt/img/1.jpg"]}),
    ):
        error = error_of(call, DatasetArn=arn, **params)
        assert (error["Code"], error["status"]) == ("ResourceInUseException", 400)
        assert "UPDATE_IN_PROGRESS" in error["Message"]
    wait_for_status(client, arn)
    # Reading history is allowed meanwhile, and the update's version follows once applied.
    assert [v["VersionNumber"] for v in versions(history, arn)] == [2, 1, 0]


def test_version_zero_and_unknown_versions_cannot_be_reverted(
    rekognition: Any, history: Any
) -> None:
    _, arn = new_dataset(rekognition, CHANGES[0])
    error = error_of(history.revert_dataset_version, DatasetArn=arn, VersionNumber=0)
    assert error["Code"] == "InvalidParameterException"
    assert "the dataset's start (created)" in error["Message"]
    error = error_of(history.revert_dataset_version, DatasetArn=arn, VersionNumber=5)
    assert error["Code"] == "ResourceNotFoundException"
    assert "its versions are 0 to 1" in error["Message"]
