"""What the history tests share: snapshots of a dataset taken through the AWS API at each
version, to hold the history operations to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from manifestdb.client import HistoryClient
from manifestdb.harness.process import CLIENT_REGION, PLACEHOLDER_KEY
from support.lines import box_line, image_line, manifest
from support.server import Server, all_entries, wait_for_status


def history_client(
    server: Server, key: str = PLACEHOLDER_KEY, secret: str = PLACEHOLDER_KEY
) -> HistoryClient:
    """The history client of a server (by default with the placeholder keys of auth off)."""
    return HistoryClient(
        server.url, region=CLIENT_REGION, aws_access_key_id=key, aws_secret_access_key=secret
    )


FILTERS: list[dict[str, Any]] = [
    {},
    {"ContainsLabels": ["cat"]},
    {"ContainsLabels": ["dog", "bird"]},
    {"Labeled": True},
    {"Labeled": False},
    {"HasErrors": True},
    {"HasErrors": False},
    {"SourceRefContains": "img/1"},
    {"ContainsLabels": ["cat"], "SourceRefContains": "img/"},
]


@dataclass
class Snapshot:
    """The dataset as ListDatasetEntries and ListDatasetLabels showed it, under each filter."""

    entries: dict[str, list[dict[str, Any]]]
    labels: dict[str, tuple[int, int]]
    stats: dict[str, int]


def key(filters: dict[str, Any]) -> str:
    return orjson.dumps(filters, option=orjson.OPT_SORT_KEYS).decode()


def snapshot(client: Any, arn: str) -> Snapshot:
    labels = {
        label["LabelName"]: (
            label["LabelStats"]["EntryCount"],
            label["LabelStats"]["BoundingBoxCount"],
        )
        for page in client.get_paginator("list_dataset_labels").paginate(DatasetArn=arn)
        for label in page["DatasetLabelDescriptions"]
    }
    stats = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["DatasetStats"]
    return Snapshot(
        {key(f): all_entries(client, arn, **f) for f in FILTERS},
        labels,
        {
            "TotalEntries": stats["TotalEntries"],
            "LabeledEntries": stats["LabeledEntries"],
            "ErrorEntries": stats["ErrorEntries"],
            "TotalLabels": stats["TotalLabels"],
        },
    )


def entries_at(history: Any, arn: str, version: int, **filters: Any) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for line in history.paginate(
            "ListDatasetEntriesAtVersion",
            "DatasetEntries",
            DatasetArn=arn,
            VersionNumber=version,
            MaxResults=3,
            **filters,
        )
    ]


def labels_at(history: Any, arn: str, version: int) -> dict[str, tuple[int, int]]:
    return {
        label["LabelName"]: (
            label["LabelStats"]["EntryCount"],
            label["LabelStats"]["BoundingBoxCount"],
        )
        for label in history.paginate(
            "ListDatasetLabelsAtVersion",
            "DatasetLabelDescriptions",
            DatasetArn=arn,
            VersionNumber=version,
            MaxResults=2,
        )
    }


def assert_matches(history: Any, arn: str, version: int, snap: Snapshot) -> None:
    """The dataset read at `version` is what the API showed when it was at that version."""
    for filters in FILTERS:
        assert entries_at(history, arn, version, **filters) == snap.entries[key(filters)], filters
    assert labels_at(history, arn, version) == snap.labels
    described = history.describe_dataset_version(DatasetArn=arn, VersionNumber=version)
    assert described["Version"]["DatasetStats"] == snap.stats


def bad_box(ref: str) -> dict[str, Any]:
    line = box_line(ref, [("dog", 10, 10, 50, 50)])
    line["bounding-box"]["annotations"][0]["top"] = -1  # stored with an error
    return line


CHANGES: list[bytes] = [
    # 1: the first lines (into an empty dataset: no before-images)
    manifest(
        *(image_line(f"s3://bkt/img/{i}.jpg", "cat") for i in range(6)),
        image_line("s3://bkt/img/10.jpg"),  # unlabeled
        box_line("s3://bkt/img/11.jpg", [("dog", 1, 1, 20, 20), ("bird", 5, 5, 9, 9)]),
    ),
    # 2: replaces some, adds some, one with an error
    manifest(
        image_line("s3://bkt/img/1.jpg", "dog"),
        image_line("s3://bkt/img/2.jpg", "cat", "bird"),
        image_line("s3://bkt/img/12.jpg", "bird"),
        bad_box("s3://bkt/img/13.jpg"),
    ),
    # 3: replaces again (one line twice changed), one identical line
    manifest(
        image_line("s3://bkt/img/1.jpg", "fish"),
        image_line("s3://bkt/img/3.jpg", "cat"),  # identical
        image_line("s3://bkt/img/14.jpg"),
    ),
]


def build(client: Any, history: Any, arn: str) -> dict[int, Snapshot]:
    """Apply CHANGES to an empty dataset; its snapshot at each version (0: empty)."""
    snaps = {0: snapshot(client, arn)}
    for change in CHANGES:
        client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": change})
        assert wait_for_status(client, arn)["Status"] == "UPDATE_COMPLETE"
        latest = history.list_dataset_versions(DatasetArn=arn)["Versions"][0]["VersionNumber"]
        snaps[latest] = snapshot(client, arn)
    return snaps
