"""The label index (bitmaps over seqs) under ContainsLabels, through the service: labels alone and
together, small pages, other filters, replacements that add and remove labels, and a label's last
entry going. Chunk edges, which need seqs no API call can choose, are in
`tests/store/test_label_chunk_edges.py`."""

from __future__ import annotations

from typing import Any

import pytest

from support.lines import box_line, image_line, manifest
from support.server import all_entries, new_dataset, wait_for_status

COUNT = 9000


def _ref(i: int) -> str:
    return f"s3://bucket/img/{i:05d}.jpg"


def _labels_of(i: int) -> tuple[str, ...]:
    labels = []
    if i % 3 == 0:
        labels.append("three")
    if i % 1000 in (0, 999):
        labels.append("rare")
    if i % 5 == 0:
        labels.append("five")
    return tuple(labels)


def _line(i: int, labels: tuple[str, ...]) -> dict[str, Any]:
    return image_line(_ref(i), *labels) if labels else {"source-ref": _ref(i)}


def _indexes(entries: list[dict[str, Any]]) -> list[int]:
    return [int(entry["source-ref"][-9:-4]) for entry in entries]


def _with(labels: dict[int, tuple[str, ...]], *wanted: str) -> list[int]:
    return [i for i in sorted(labels) if set(labels[i]) & set(wanted)]


@pytest.fixture(scope="module")
def big(rekognition: Any) -> tuple[str, dict[int, tuple[str, ...]]]:
    labels = {i: _labels_of(i) for i in range(COUNT)}
    _, arn = new_dataset(rekognition, manifest(*(_line(i, labels[i]) for i in range(COUNT))))
    assert wait_for_status(rekognition, arn)["Status"] == "UPDATE_COMPLETE"
    return arn, labels


def test_each_label_and_their_union(
    rekognition: Any, big: tuple[str, dict[int, tuple[str, ...]]]
) -> None:
    arn, labels = big
    for wanted in (["three"], ["rare"], ["five"], ["rare", "five"], ["three", "five", "rare"]):
        found = _indexes(all_entries(rekognition, arn, ContainsLabels=wanted))
        assert found == _with(labels, *wanted), wanted


def test_small_pages_walk_the_same_entries(
    rekognition: Any, big: tuple[str, dict[int, tuple[str, ...]]]
) -> None:
    arn, labels = big
    found = _indexes(
        all_entries(rekognition, arn, ContainsLabels=["rare"], PaginationConfig={"PageSize": 7})
    )
    assert found == _with(labels, "rare")
    assert len(found) == 18


def test_labels_with_other_filters(
    rekognition: Any, big: tuple[str, dict[int, tuple[str, ...]]]
) -> None:
    arn, labels = big
    found = _indexes(all_entries(rekognition, arn, ContainsLabels=["rare"], SourceRefContains="99"))
    assert found == [i for i in _with(labels, "rare") if "99" in _ref(i)]
    assert found  # 999, 1999, ...
    none = all_entries(rekognition, arn, ContainsLabels=["five"], Labeled=False)
    assert none == []


def test_replacements_move_entries_between_labels(rekognition: Any) -> None:
    labels = {i: _labels_of(i) for i in range(COUNT)}
    _, arn = new_dataset(rekognition, manifest(*(_line(i, labels[i]) for i in range(COUNT))))
    # Every 4th entry: "three" goes, "four" comes; every rare one loses all its labels.
    changed: dict[int, tuple[str, ...]] = {}
    for i in range(0, COUNT, 4):
        changed[i] = (*(label for label in labels[i] if label != "three"), "four")
    for i in _with(labels, "rare"):
        changed[i] = ()
    rekognition.update_dataset_entries(
        DatasetArn=arn,
        Changes={"GroundTruth": manifest(*(_line(i, ls) for i, ls in changed.items()))},
    )
    assert wait_for_status(rekognition, arn)["Status"] == "UPDATE_COMPLETE"
    labels.update(changed)
    for wanted in (["three"], ["four"], ["five"], ["three", "four"]):
        found = _indexes(all_entries(rekognition, arn, ContainsLabels=wanted))
        assert found == _with(labels, *wanted), wanted
    assert all_entries(rekognition, arn, ContainsLabels=["rare"]) == []
    names = {
        stat["LabelName"]: stat["LabelStats"]["EntryCount"]
        for page in rekognition.get_paginator("list_dataset_labels").paginate(DatasetArn=arn)
        for stat in page["DatasetLabelDescriptions"]
    }
    assert "rare" not in names
    assert names["four"] == len(_with(labels, "four"))


def test_a_box_line_replacing_an_image_line_keeps_its_place(rekognition: Any) -> None:
    _, arn = new_dataset(rekognition, manifest(*(image_line(_ref(i), "cat") for i in range(5000))))
    rekognition.update_dataset_entries(
        DatasetArn=arn,
        Changes={"GroundTruth": manifest(box_line(_ref(4500), [("dog", 1, 1, 20, 20)]))},
    )
    assert wait_for_status(rekognition, arn)["Status"] == "UPDATE_COMPLETE"
    assert _indexes(all_entries(rekognition, arn, ContainsLabels=["dog"])) == [4500]
    cats = _indexes(all_entries(rekognition, arn, ContainsLabels=["cat"]))
    assert cats == [i for i in range(5000) if i != 4500]
