"""ListDatasetLabels: per-label stats and pagination by label name."""

from __future__ import annotations

from typing import Any

from support.lines import box_line, image_line, manifest
from support.server import new_dataset


def test_label_stats_count_images_not_boxes(rekognition: Any):
    _, train = new_dataset(
        rekognition,
        manifest(
            box_line("s3://bkt/1.jpg", [("dog", 0, 0, 10, 10), ("dog", 20, 20, 10, 10)]),
            image_line("s3://bkt/2.jpg", "dog"),
            box_line("s3://bkt/3.jpg", [("cat", 0, 0, 10, 10)]),
            image_line("s3://bkt/4.jpg", "cat", "bird"),
        ),
    )
    labels = rekognition.list_dataset_labels(DatasetArn=train)["DatasetLabelDescriptions"]
    assert labels == [
        {"LabelName": "bird", "LabelStats": {"EntryCount": 1, "BoundingBoxCount": 0}},
        {"LabelName": "cat", "LabelStats": {"EntryCount": 2, "BoundingBoxCount": 1}},
        {"LabelName": "dog", "LabelStats": {"EntryCount": 2, "BoundingBoxCount": 1}},
    ]


def test_labels_paginate_in_name_order(rekognition: Any):
    names = [f"label-{i:03d}" for i in range(130)]
    _, train = new_dataset(
        rekognition,
        manifest(*(image_line(f"s3://bkt/{i}.jpg", name) for i, name in enumerate(names))),
    )
    first = rekognition.list_dataset_labels(DatasetArn=train)
    assert len(first["DatasetLabelDescriptions"]) == 100
    second = rekognition.list_dataset_labels(DatasetArn=train, NextToken=first["NextToken"])
    assert "NextToken" not in second
    got = [d["LabelName"] for d in first["DatasetLabelDescriptions"]] + [
        d["LabelName"] for d in second["DatasetLabelDescriptions"]
    ]
    assert got == names
    paginated = [
        d["LabelName"]
        for page in rekognition.get_paginator("list_dataset_labels").paginate(
            DatasetArn=train, PaginationConfig={"PageSize": 33}
        )
        for d in page["DatasetLabelDescriptions"]
    ]
    assert paginated == names


def test_an_empty_dataset_has_no_labels(rekognition: Any):
    _, train = new_dataset(rekognition)
    page = rekognition.list_dataset_labels(DatasetArn=train)
    assert page["DatasetLabelDescriptions"] == []
    assert "NextToken" not in page
