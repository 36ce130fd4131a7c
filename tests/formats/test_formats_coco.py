"""COCO: round trips through the manifest, pixel-exact, and output that pycocotools loads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from pycocotools.coco import COCO

from manifestdb.manifest import Entry
from manifestdb.manifest.formats import FormatError, Image, coco
from manifestdb.manifest.formats.images import ImageLocator

PREFIX = "s3://bucket/data/"


def by_image(document: dict[str, Any], strip: str = "") -> dict[str, dict[str, Any]]:
    """Each image's size, boxes and image-level labels, by file name, with category names."""
    names = {category["id"]: category["name"] for category in document["categories"]}
    images = {}
    for image in document["images"]:
        boxes = sorted(
            (names[a["category_id"]], a["bbox"])
            for a in document["annotations"]
            if a["image_id"] == image["id"]
        )
        labels = [names[i] for i in image.get("category_ids", [])]
        images[image["file_name"].removeprefix(strip)] = {
            "size": (image["width"], image["height"]),
            "boxes": boxes,
            "labels": labels,
        }
    return images


def test_coco_to_manifest_to_coco_keeps_images_categories_and_boxes(
    convert: Callable[..., Any],
    valid_manifest: Callable[[Path], list[Entry]],
    data: Path,
    tmp_path: Path,
) -> None:
    source = data / "coco" / "instances.json"
    manifest, back = tmp_path / "train.manifest", tmp_path / "back.json"
    first = convert(
        "--from", "coco", "--to", "manifest", source, "-o", manifest,
        "--s3-prefix", PREFIX, "--images", data / "images",
    )  # fmt: skip
    assert first.exit_code == 0, first.stderr
    assert "converted 4 images (1 image-level labels, 5 boxes) from coco to groundtruth" in (
        first.stderr
    )
    entries = valid_manifest(manifest)
    assert [e.source_ref for e in entries] == [
        PREFIX + name for name in ("street.png", "cat.jpg", "gray.png", "unlabeled.png")
    ]
    assert [e.labels for e in entries] == [
        {"car": 2, "person": 1},
        {"cat": 2},
        {"sky": 0},
        {},
    ]
    # The unlabeled image needs no size; gray.png (image-level only) is read from the local copy.
    second = convert(
        "--from", "groundtruth", "--to", "coco", manifest, "-o", back,
        "--s3-prefix", PREFIX, "--images", data / "images",
    )  # fmt: skip
    assert second.exit_code == 0, second.stderr
    original = orjson.loads(source.read_bytes())
    converted = orjson.loads(back.read_bytes())
    assert by_image(converted, strip=PREFIX) == by_image(original)
    assert {c["name"] for c in converted["categories"]} == {
        c["name"] for c in original["categories"]
    }
    assert len(converted["annotations"]) == len(original["annotations"])


def test_coco_output_loads_in_pycocotools(
    convert: Callable[..., Any], data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    result = convert("--from", "coco", "--to", "coco", data / "coco" / "instances.json", "-o", out)
    assert result.exit_code == 0, result.stderr
    loaded = COCO(str(out))
    original = COCO(str(data / "coco" / "instances.json"))
    assert len(loaded.getAnnIds()) == len(original.getAnnIds()) == 5
    assert len(loaded.getImgIds()) == len(original.getImgIds()) == 4
    assert [c["name"] for c in loaded.loadCats(loaded.getCatIds())] == [
        "car",
        "person",
        "cat",
        "sky",
    ]  # the input's category order, renumbered from 1
    street = loaded.getImgIds()[0]
    assert [a["bbox"] for a in loaded.loadAnns(loaded.getAnnIds(imgIds=[street]))] == [
        [64, 48, 128, 96],
        [400.5, 120, 79.25, 240],
        [0, 300, 640, 180],
    ]
    car = loaded.getCatIds(catNms=["car"])
    assert len(loaded.getAnnIds(catIds=car)) == 2
    assert loaded.loadAnns(1)[0]["area"] == 128 * 96


def test_annotations_without_bbox_are_image_level_labels(tmp_path: Path) -> None:
    source = tmp_path / "classes.json"
    source.write_bytes(
        orjson.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64}],
                "categories": [{"id": 7, "name": "indoor"}, {"id": 8, "name": "dog"}],
                "annotations": [
                    {"id": 1, "image_id": 1, "category_id": 7},
                    {"id": 2, "image_id": 1, "category_id": 8, "bbox": []},
                ],
            }
        )
    )
    assert list(coco.read(str(source))) == [
        Image("a.jpg", 64, 64, labels=["indoor", "dog"], boxes=[])
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [
            {"id": 1, "image_id": 1, "category_id": 9, "bbox": [1, 2, 3, 4]}]},
         "annotations[0] names unknown category 9"),
        ({"images": [], "annotations": [{"id": 1, "image_id": 5, "category_id": 1}]},
         "annotations[0] names unknown image 5"),
        ({"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "x"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2]}]},
         "annotations[0] has a bbox that is not [x, y, width, height]"),
        ({"images": [{"file_name": "a.jpg"}]}, "images[0] has no id or file_name"),
        ({"images": {}}, "'images' is not an array"),
        ({"images": [{"id": 1, "file_name": "a.jpg", "category_ids": 3}]},
         "images[0].category_ids is not an array"),
    ],
)  # fmt: skip
def test_malformed_coco_is_an_error(document: dict[str, Any], message: str, tmp_path: Path) -> None:
    source = tmp_path / "bad.json"
    source.write_bytes(orjson.dumps(document))
    with pytest.raises(FormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        list(coco.read(str(source)))


def test_written_sizes_come_from_image_headers(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "sized.json"
    coco.write(
        [Image("street.png", labels=["road"]), Image("gray.png")],
        str(out),
        locator=ImageLocator(data / "images"),
    )
    images = orjson.loads(out.read_bytes())["images"]
    assert [(i["file_name"], i["width"], i["height"]) for i in images] == [
        ("street.png", 640, 480),
        ("gray.png", 200, 100),
    ]
