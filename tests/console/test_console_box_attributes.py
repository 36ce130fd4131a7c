"""Boxes of a line of several bounding-box attributes (two labeling jobs), edited in a real
browser: every box of each attribute is moved, relabelled, moved to the other attribute or
deleted, a new box goes into the attribute chosen, and the saved line (read back through boto3)
keeps each attribute's boxes, class-map and confidences, valid under the same validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from console_kit import META, jsonl, ref
from test_console_editing import drag, line_of, open_entry, save_and_wait, valid_ground_truth
from test_console_pages import screenshot

from support.server import Server, new_dataset

SIZE = (640, 480)  # a.jpg
FRAME = [{"width": 640, "height": 480, "depth": 3}]


def two_jobs() -> dict[str, Any]:
    """a.jpg labelled by two jobs: `bounding-box` (dog, cat) and `bounding-box-2` (two cars)."""
    return {
        "source-ref": ref("a.jpg"),
        "bounding-box": {
            "image_size": FRAME,
            "annotations": [
                {"class_id": 0, "left": 100, "top": 100, "width": 200, "height": 200},
                {"class_id": 1, "left": 360, "top": 60, "width": 200, "height": 150},
            ],
        },
        "bounding-box-metadata": {
            "objects": [{"confidence": 0.9}, {"confidence": 0.95}],
            "class-map": {"0": "dog", "1": "cat"},
            "type": "groundtruth/object-detection",
            **META,
        },
        "bounding-box-2": {
            "image_size": FRAME,
            "annotations": [
                {"class_id": 4, "left": 50, "top": 320, "width": 150, "height": 100},
                {"class_id": 4, "left": 420, "top": 300, "width": 100, "height": 80},
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


def near(box: dict[str, Any], left: int, top: int, width: int, height: int) -> bool:
    found = (box["left"], box["top"], box["width"], box["height"])
    return all(abs(a - b) <= 3 for a, b in zip(found, (left, top, width, height), strict=True))


def test_every_box_of_both_attributes_is_edited_and_saved_in_its_own(
    console: Server, page: Any, tmp_path: Path
) -> None:
    client = console.client()
    _, arn = new_dataset(client, jsonl([two_jobs()]))
    open_entry(page, console, arn, ref("a.jpg"))
    rects = page.locator("#canvas rect.editable")
    assert rects.count() == 4  # every box of both attributes, none read-only
    attributes = [rects.nth(n).get_attribute("data-attribute") for n in range(4)]
    assert attributes == ["bounding-box", "bounding-box", "bounding-box-2", "bounding-box-2"]
    chooser = page.get_by_label("Attribute of new boxes")
    assert chooser.input_value() == "bounding-box"  # the first, unless another is chosen
    assert page.locator("#box-attribute option").all_inner_texts() == [
        "bounding-box",
        "bounding-box-2",
    ]

    # bounding-box-2: move its first car by (+40, +20) and draw a truck into it.
    drag(page, (125, 370), (165, 390), SIZE)
    chooser.select_option("bounding-box-2")
    page.get_by_label("Label of new boxes").fill("truck")
    drag(page, (250, 380), (330, 460), SIZE)
    assert page.locator("#canvas rect.editable").nth(4).get_attribute("data-attribute") == (
        "bounding-box-2"
    )
    # bounding-box: the dog becomes a wolf; the cat moves into bounding-box-2.
    page.locator('#box-list button[data-index="0"]').click()
    page.get_by_label("Label of the selected box").fill("wolf")
    page.get_by_label("Label of the selected box").press("Enter")
    page.locator('#box-list button[data-index="1"]').click()
    page.get_by_label("Attribute of the selected box").select_option("bounding-box-2")
    screenshot(page, tmp_path, "console-edit-attributes.png")
    # The second car is deleted from the keyboard.
    page.locator('#box-list button[data-index="3"]').focus()
    page.keyboard.press("Delete")
    save_and_wait(page)

    line = line_of(client, arn, ref("a.jpg"))
    valid_ground_truth(line)
    first, first_meta = line["bounding-box"], line["bounding-box-metadata"]
    assert first["image_size"] == FRAME
    assert first["annotations"] == [
        {"class_id": 2, "left": 100, "top": 100, "width": 200, "height": 200}
    ]
    assert first_meta["class-map"] == {"2": "wolf"}
    assert first_meta["objects"] == [{"confidence": 1}]
    second, second_meta = line["bounding-box-2"], line["bounding-box-2-metadata"]
    assert second["image_size"] == FRAME
    cat, car, truck = second["annotations"]
    assert cat == {"class_id": 5, "left": 360, "top": 60, "width": 200, "height": 150}
    assert car["class_id"] == 4 and near(car, 90, 340, 150, 100)
    assert truck["class_id"] == 6 and near(truck, 250, 380, 80, 80)
    assert second_meta["class-map"] == {"4": "car", "5": "cat", "6": "truck"}
    assert second_meta["objects"] == [{"confidence": 1}] * 3
    assert (second_meta["human-annotated"], second_meta["job-name"]) == (
        "yes",
        "manifestdb-console",
    )
    labels = client.list_dataset_labels(DatasetArn=arn)["DatasetLabelDescriptions"]
    assert {label["LabelName"]: label["LabelStats"]["BoundingBoxCount"] for label in labels} == {
        "wolf": 1,
        "cat": 1,
        "car": 1,
        "truck": 1,
    }


def test_an_attribute_left_alone_keeps_its_confidences_and_dates(
    console: Server, page: Any
) -> None:
    client = console.client()
    _, arn = new_dataset(client, jsonl([two_jobs()]))
    open_entry(page, console, arn, ref("a.jpg"))
    page.get_by_label("Label of new boxes").fill("bird")
    drag(page, (400, 400), (460, 460), SIZE)  # into the first attribute: the default
    save_and_wait(page)
    line = line_of(client, arn, ref("a.jpg"))
    valid_ground_truth(line)
    assert line["bounding-box-2"] == two_jobs()["bounding-box-2"]
    assert line["bounding-box-2-metadata"] == two_jobs()["bounding-box-2-metadata"]
    meta = line["bounding-box-metadata"]
    assert meta["class-map"] == {"0": "dog", "1": "cat", "2": "bird"}
    # The stored boxes keep their confidences; the new one is a person's: 1.
    assert meta["objects"] == [{"confidence": 0.9}, {"confidence": 0.95}, {"confidence": 1}]
    assert near(line["bounding-box"]["annotations"][2], 400, 400, 60, 60)
