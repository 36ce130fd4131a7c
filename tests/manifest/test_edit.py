"""The console's line builder: edited lines in Ground Truth's form, judged valid by check_line,
with the service's keys gone, and what a stored line holds kept."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from manifestdb.manifest.edit import (
    Box,
    EditRefused,
    EntryEdit,
    clean_line,
    edited_line,
    image_labels,
)
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


# -- lines with several bounding-box attributes (two labeling jobs) -----------------------------


def two_jobs() -> dict[str, Any]:
    """A line of two labeling jobs: `bounding-box` (dog, cat) and `bounding-box-2` (car, car)."""
    return {
        "source-ref": "s3://bucket/street.jpg",
        "bounding-box": {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [
                {"class_id": 0, "left": 10, "top": 10, "width": 100, "height": 80},
                {"class_id": 1, "left": 200, "top": 50, "width": 60, "height": 60},
            ],
        },
        "bounding-box-metadata": {
            "objects": [{"confidence": 0.9}, {"confidence": 0.7}],
            "class-map": {"0": "dog", "1": "cat"},
            "type": "groundtruth/object-detection",
            **META,
        },
        "bounding-box-2": {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [
                {"class_id": 4, "left": 300.4, "top": 300, "width": 120, "height": 90.5},
                {"class_id": 4, "left": 20, "top": 350, "width": 80, "height": 70},
            ],
        },
        "bounding-box-2-metadata": {
            "objects": [{"confidence": 0.8}, {"confidence": 0.6}],
            "class-map": {"4": "car"},
            "type": "groundtruth/object-detection",
            "human-annotated": "no",
            "creation-date": "2023-03-03T00:00:00",
            "job-name": "cars",
        },
    }


def as_shown(line: dict[str, Any]) -> list[Box]:
    """Every box of the line as the editor lists and sends it back (pixels rounded half up)."""
    shown = []
    for name in ("bounding-box", "bounding-box-2"):
        if name not in line:
            continue
        names = line[name + "-metadata"]["class-map"]
        for box in line[name]["annotations"]:
            sides = [int(box[side] + 0.5) for side in ("left", "top", "width", "height")]
            shown.append(Box(names[str(box["class_id"])], *sides, attribute=name))
    return shown


def test_every_box_of_every_attribute_sent_back_unchanged_changes_nothing() -> None:
    line = stored(two_jobs())
    new = edited_line(line, EntryEdit(boxes=tuple(as_shown(line))), no_size, NOW)
    assert new == clean_line(line)  # 300.4 and 90.5, shown as 300 and 91, are not "moved"


def test_a_box_of_the_second_attribute_moves_and_the_first_attribute_stays_as_stored() -> None:
    line = stored(two_jobs())
    boxes = as_shown(line)
    moved = Box("car", 40, 360, 80, 70, attribute="bounding-box-2")
    boxes[3] = moved
    boxes.append(Box("truck", 400, 20, 150, 100, attribute="bounding-box-2"))
    new = edited_line(line, EntryEdit(boxes=tuple(boxes)), no_size, NOW)
    original = two_jobs()
    assert new["bounding-box"] == original["bounding-box"]
    assert new["bounding-box-metadata"] == original["bounding-box-metadata"]
    assert new["bounding-box-2"]["annotations"] == [
        {"class_id": 4, "left": 300.4, "top": 300, "width": 120, "height": 90.5},  # kept as is
        {"class_id": 4, "left": 40, "top": 360, "width": 80, "height": 70},
        {"class_id": 5, "left": 400, "top": 20, "width": 150, "height": 100},
    ]
    meta = new["bounding-box-2-metadata"]
    assert meta["objects"] == [{"confidence": 0.8}, {"confidence": 1}, {"confidence": 1}]
    assert meta["class-map"] == {"4": "car", "5": "truck"}
    assert (meta["human-annotated"], meta["creation-date"], meta["job-name"]) == (
        "yes",
        NOW,
        "manifestdb-console",
    )
    entry = judged(new)
    assert not entry.problems, entry.problems
    assert entry.labels == {"dog": 1, "cat": 1, "car": 2, "truck": 1}


def test_a_box_without_an_attribute_goes_into_the_first_one() -> None:
    line = stored(two_jobs())
    boxes = [*as_shown(line), Box("bird", 500, 400, 30, 30)]
    new = edited_line(line, EntryEdit(boxes=tuple(boxes)), no_size, NOW)
    assert new["bounding-box"]["annotations"][-1] == {
        "class_id": 2,
        "left": 500,
        "top": 400,
        "width": 30,
        "height": 30,
    }
    assert new["bounding-box-metadata"]["class-map"] == {"0": "dog", "1": "cat", "2": "bird"}
    assert new["bounding-box-metadata"]["objects"] == [
        {"confidence": 0.9},
        {"confidence": 0.7},
        {"confidence": 1},
    ]
    assert new["bounding-box-2"] == two_jobs()["bounding-box-2"]
    assert not judged(new).problems


def test_a_box_moved_into_the_other_attribute_takes_that_attribute_s_id() -> None:
    line = stored(two_jobs())
    boxes = as_shown(line)
    dog = boxes.pop(0)
    boxes.append(Box("dog", dog.left, dog.top, dog.width, dog.height, "bounding-box-2"))
    boxes.append(Box("cat", 5, 5, 20, 20, "bounding-box-2"))
    new = edited_line(line, EntryEdit(boxes=tuple(boxes)), no_size, NOW)
    assert new["bounding-box-metadata"]["class-map"] == {"1": "cat"}
    assert new["bounding-box-metadata"]["objects"] == [{"confidence": 0.7}]
    assert new["bounding-box-2-metadata"]["class-map"] == {"4": "car", "5": "dog", "6": "cat"}
    assert [box["class_id"] for box in new["bounding-box-2"]["annotations"]] == [4, 4, 5, 6]
    assert len(new["bounding-box-2-metadata"]["objects"]) == 4
    entry = judged(new)
    assert not entry.problems and entry.labels == {"cat": 2, "car": 2, "dog": 1}


def test_deleting_every_box_of_one_attribute_removes_that_pair_only() -> None:
    line = stored(two_jobs())
    boxes = [box for box in as_shown(line) if box.attribute == "bounding-box"]
    new = edited_line(line, EntryEdit(boxes=tuple(boxes)), no_size, NOW)
    assert "bounding-box-2" not in new and "bounding-box-2-metadata" not in new
    assert new["bounding-box-metadata"] == two_jobs()["bounding-box-metadata"]
    assert judged(new).labels == {"dog": 1, "cat": 1}


def test_a_new_id_is_not_one_a_stored_box_uses_outside_the_class_map() -> None:
    line = two_jobs()
    line["bounding-box-2"]["annotations"][1]["class_id"] = 9  # not in the class-map: an error
    boxes = [box for box in as_shown(two_jobs()) if box.attribute == "bounding-box"]
    boxes += [
        Box("car", 300, 300, 120, 91, "bounding-box-2"),
        Box("class 9", 20, 350, 80, 70, "bounding-box-2"),  # as the editor names it
        Box("bus", 0, 0, 50, 50, "bounding-box-2"),
    ]
    new = edited_line(stored(line), EntryEdit(boxes=tuple(boxes)), no_size, NOW)
    meta = new["bounding-box-2-metadata"]
    assert meta["class-map"] == {"4": "car", "9": "class 9", "10": "bus"}
    assert [box["class_id"] for box in new["bounding-box-2"]["annotations"]] == [4, 9, 10]
    assert not judged(new).problems


def test_a_box_naming_an_attribute_the_line_lacks_is_refused() -> None:
    line = stored(two_jobs())
    edit = EntryEdit(boxes=(*as_shown(line), Box("dog", 1, 1, 9, 9, attribute="label")))
    with pytest.raises(EditRefused) as refused:
        edited_line(line, edit, no_size, NOW)
    assert str(refused.value) == (
        "Boxes[4].Attribute is 'label': it must name a bounding-box attribute of the line "
        "(the line has: bounding-box, bounding-box-2)."
    )
