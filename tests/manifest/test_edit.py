"""The console's line builder: edited lines in Ground Truth's form, judged valid by check_line,
with the service's keys gone, and what a stored line holds kept."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from manifestdb.manifest.edit import Box, EntryEdit, clean_line, edited_line, image_labels
from manifestdb.manifest.line import check_line
from manifestdb.manifest.types import Entry

NOW = "2024-05-01T12:00:00.000000"
META = {"human-annotated": "yes", "creation-date": "2024-01-01T00:00:00", "job-name": "j"}


def stored(line: dict[str, Any]) -> dict[str, Any]:
    """The line as the service stores it (service keys written in)."""
    entry = check_line(orjson.dumps(line), 1)
    assert isinstance(entry, Entry)
    parsed: dict[str, Any] = orjson.loads(entry.line)
    return parsed


def judged(line: dict[str, Any]) -> Entry:
    entry = check_line(orjson.dumps(line), 1)
    assert isinstance(entry, Entry), entry
    return entry


def no_size() -> tuple[int, int, int]:
    raise AssertionError("the image's size is not needed for this edit")


def detection() -> dict[str, Any]:
    return {
        "source-ref": "s3://bucket/a.jpg",
        "bbox": {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [
                {"class_id": 0, "left": 10, "top": 10, "width": 100, "height": 80},
                {"class_id": 3, "left": 300, "top": 200, "width": 1, "height": 1},  # too small
            ],
        },
        "bbox-metadata": {
            "objects": [{"confidence": 0.9}, {"confidence": 1}],
            "class-map": {"0": "dog", "3": "cat"},
            "type": "groundtruth/object-detection",
            **META,
        },
        "note": "user data",
    }


def classification(label: str = "flower") -> dict[str, Any]:
    return {
        "source-ref": "s3://bucket/f.png",
        "label": 1,
        "label-metadata": {
            "class-name": label,
            "confidence": 1,
            "type": "groundtruth/image-classification",
            **META,
        },
    }


SERVICE_KEYS = {"errors", "warnings", "cl-metadata", "cl-errors"}


def service_keys_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = SERVICE_KEYS & set(value)
        for item in value.values():
            found |= service_keys_in(item)
        return found
    if isinstance(value, list):
        return set().union(*(service_keys_in(item) for item in value)) if value else set()
    return set()


def test_an_added_label_is_a_classification_pair_under_a_free_name() -> None:
    line = stored(classification())
    line["label-1"] = "taken by user data"
    new = edited_line(line, EntryEdit(add_labels=("tulip", "flower")), no_size, NOW)
    assert new["label-2"] == 1
    assert new["label-2-metadata"] == {
        "class-name": "tulip",
        "confidence": 1,
        "type": "groundtruth/image-classification",
        "human-annotated": "yes",
        "creation-date": NOW,
        "job-name": "manifestdb-console",
    }
    assert image_labels(new) == ["flower", "tulip"]  # flower was there already: not twice
    entry = judged(new)
    assert not entry.problems and entry.labels == {"flower": 0, "tulip": 0}


def test_a_removed_label_takes_its_pair_away() -> None:
    line = stored(classification())
    new = edited_line(line, EntryEdit(remove_labels=("flower",)), no_size, NOW)
    assert new == {"source-ref": "s3://bucket/f.png"}
    assert judged(new).labels == {}


def test_boxes_replace_those_of_the_existing_attribute_keeping_its_frame_and_ids() -> None:
    line = stored(detection())
    assert service_keys_in(line)  # the stored line carries errors of the small box
    boxes = (Box("cat", 20, 30, 50, 60), Box("dog", 100, 100, 200, 150), Box("bird", 0, 0, 9, 9))
    new = edited_line(line, EntryEdit(boxes=boxes), no_size, NOW)
    assert not service_keys_in(new)
    assert new["bbox"] == {
        "image_size": [{"width": 640, "height": 480, "depth": 3}],
        "annotations": [
            {"class_id": 3, "left": 20, "top": 30, "width": 50, "height": 60},
            {"class_id": 0, "left": 100, "top": 100, "width": 200, "height": 150},
            {"class_id": 4, "left": 0, "top": 0, "width": 9, "height": 9},
        ],
    }
    meta = new["bbox-metadata"]
    assert meta["objects"] == [{"confidence": 1}] * 3
    assert meta["class-map"] == {"0": "dog", "3": "cat", "4": "bird"}
    assert meta["type"] == "groundtruth/object-detection"
    assert (meta["human-annotated"], meta["creation-date"], meta["job-name"]) == (
        "yes",
        NOW,
        "manifestdb-console",
    )
    assert new["note"] == "user data" and next(iter(new)) == "source-ref"
    entry = judged(new)
    assert not entry.problems and entry.labels == {"cat": 1, "dog": 1, "bird": 1}


def test_a_first_box_makes_a_new_attribute_with_the_image_s_size() -> None:
    line = stored(classification())
    new = edited_line(
        line, EntryEdit(boxes=(Box("bee", 5, 6, 70, 80),)), lambda: (300, 200, 3), NOW
    )
    assert new["bounding-box"]["image_size"] == [{"width": 300, "height": 200, "depth": 3}]
    assert new["bounding-box-metadata"]["class-map"] == {"0": "bee"}
    entry = judged(new)
    assert not entry.problems and entry.labels == {"flower": 0, "bee": 1}


def test_deleting_every_box_removes_the_pair() -> None:
    line = stored(detection())
    new = edited_line(line, EntryEdit(boxes=()), no_size, NOW)
    assert "bbox" not in new and "bbox-metadata" not in new
    assert judged(new).labels == {}


@pytest.mark.parametrize(
    "edit",
    [
        EntryEdit(add_labels=("x",)),
        EntryEdit(remove_labels=("dog",)),
        EntryEdit(boxes=(Box("dog", 1, 2, 30, 40),)),
    ],
)
def test_an_edited_line_round_trips_through_the_store_and_back(edit: EntryEdit) -> None:
    """Stored, listed, exported and sent again: the same line, and no service key piles up."""
    once = edited_line(stored(detection()), edit, no_size, NOW)
    again = clean_line(stored(once))
    assert again == once
    assert edited_line(stored(once), EntryEdit(), no_size, NOW) == once


def test_the_stored_line_is_not_changed() -> None:
    line = stored(detection())
    before = orjson.dumps(line)
    edited_line(line, EntryEdit(add_labels=("x",), boxes=()), no_size, NOW)
    assert orjson.dumps(line) == before
