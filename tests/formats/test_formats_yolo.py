"""YOLO: normalized centres to pixels and back, against hand-checked label files."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from manifestdb.manifest import Entry
from manifestdb.manifest.formats import Box, FormatError, Image, yolo

PREFIX = "s3://bucket/data/"


def test_yolo_to_manifest_gives_hand_checked_pixels(
    convert: Callable[..., Any],
    valid_manifest: Callable[[Path], list[Entry]],
    data: Path,
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "out.manifest"
    result = convert("--from", "yolo", "--to", "groundtruth", data / "yolo", "-o", manifest,
                     "--s3-prefix", PREFIX)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    valid_manifest(manifest)
    lines = {
        line["source-ref"]: line for line in map(orjson.loads, manifest.read_bytes().splitlines())
    }
    assert list(lines) == [PREFIX + f"images/{name}" for name in
                           ("cat.jpg", "gray.png", "street.png", "unlabeled.png")]  # fmt: skip

    def boxes(name: str) -> list[tuple[str, int, int, int, int]]:
        line = lines[PREFIX + "images/" + name]
        names = line["bounding-box-metadata"]["class-map"]
        return [
            (names[str(a["class_id"])], a["left"], a["top"], a["width"], a["height"])
            for a in line["bounding-box"]["annotations"]
        ]

    # street.png is 640x480: `0 0.2 0.2 0.2 0.2` is a box of 128x96 centred on (128, 96).
    assert boxes("street.png") == [("car", 64, 48, 128, 96), ("person", 400, 120, 80, 240)]
    # cat.jpg is 300x168: centre (0.518333*300, 0.255952*168) = (155.4999, 42.9999) -> 95, 6.
    assert boxes("cat.jpg") == [("cat", 95, 6, 121, 74)]
    assert lines[PREFIX + "images/street.png"]["bounding-box"]["image_size"] == [
        {"width": 640, "height": 480, "depth": 3}
    ]
    # An empty label file: labeled, no objects. No label file: unlabeled.
    assert boxes("gray.png") == []
    assert lines[PREFIX + "images/unlabeled.png"] == {"source-ref": PREFIX + "images/unlabeled.png"}


def test_manifest_to_yolo_gives_the_hand_checked_files_back(
    convert: Callable[..., Any], data: Path, tmp_path: Path
) -> None:
    manifest, out = tmp_path / "out.manifest", tmp_path / "yolo"
    convert("--from", "yolo", "--to", "groundtruth", data / "yolo", "-o", manifest,
            "--s3-prefix", PREFIX)  # fmt: skip
    result = convert("--from", "groundtruth", "--to", "yolo", manifest, "-o", out,
                     "--classes", data / "yolo" / "classes.txt")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    for name in ("street.txt", "cat.txt", "gray.txt"):
        assert (out / "labels" / name).read_text() == (data / "yolo" / "labels" / name).read_text()
    assert not (out / "labels" / "unlabeled.txt").exists()
    assert (out / "classes.txt").read_text() == "car\nperson\ncat\n"
    assert (out / "images.txt").read_text().splitlines() == [
        PREFIX + f"images/{name}" for name in ("cat.jpg", "gray.png", "street.png", "unlabeled.png")
    ]


def test_yolo_round_trip_through_coco_keeps_class_order(
    convert: Callable[..., Any], data: Path, tmp_path: Path
) -> None:
    middle, out = tmp_path / "mid.json", tmp_path / "yolo"
    assert convert("--from", "yolo", "--to", "coco", data / "yolo", "-o", middle).exit_code == 0
    result = convert("--from", "coco", "--to", "yolo", middle, "-o", out,
                     "--images", data / "yolo")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (out / "classes.txt").read_text() == (data / "yolo" / "classes.txt").read_text()
    for name in ("street.txt", "cat.txt"):
        assert (out / "labels" / name).read_text() == (data / "yolo" / "labels" / name).read_text()
    # COCO cannot tell "labeled, no objects" (gray.txt, empty) from unlabeled: documented.
    assert not (out / "labels" / "gray.txt").exists()
    # Written from relative paths, the image list reads back with the images beside it.
    shutil.copytree(data / "yolo" / "images", out / "images")
    back = list(yolo.read(str(out)))
    assert [image.source_ref for image in back] == [
        f"images/{name}" for name in ("cat.jpg", "gray.png", "street.png", "unlabeled.png")
    ]
    assert back[2].boxes == [Box("car", 64, 48, 128, 96), Box("person", 400, 120, 80, 240)]


def test_hand_written_example(tmp_path: Path) -> None:
    image = Image("images/a.jpg", 640, 480, boxes=[Box("c", 64, 48, 128, 96)])
    summary = yolo.write([image], str(tmp_path), classes=["a", "b", "c"])
    assert (tmp_path / "labels" / "a.txt").read_text() == "2 0.2 0.2 0.2 0.2\n"
    assert (summary.images, summary.boxes) == (1, 1)


def test_image_level_labels_are_dropped_with_a_warning(
    convert: Callable[..., Any], data: Path, tmp_path: Path
) -> None:
    result = convert("--from", "voc", "--to", "yolo", data / "voc", "-o", tmp_path / "y")
    assert result.exit_code == 0, result.stderr
    assert "warning: yolo cannot carry image-level labels: 1 dropped" in result.stderr


def _dataset(tmp_path: Path, data: Path, labels: str, classes: str = "car\n") -> Path:
    folder = tmp_path / "set"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    shutil.copy(data / "images" / "street.png", folder / "images" / "street.png")
    (folder / "classes.txt").write_text(classes)
    (folder / "labels" / "street.txt").write_text(labels)
    return folder


def test_a_sixth_value_is_a_confidence(data: Path, tmp_path: Path) -> None:
    folder = _dataset(tmp_path, data, "0 0.5 0.5 0.25 0.25 0.87\n\n")
    [image] = yolo.read(str(folder))
    assert image.boxes == [Box("car", 240, 180, 160, 120)]
    assert (image.width, image.height, image.depth) == (640, 480, 3)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("3 0.5 0.5 0.1 0.1\n", r"street.txt:1: class 3 is not in classes.txt \(1 classes\)"),
        ("0 0.5 0.5 0.1\n", r"street.txt:1: 4 values; a box has 5"),
        ("0 0.5 0.5 0.1 wide\n", r"street.txt:1: not `class x_center y_center width height`"),
    ],
)
def test_bad_label_lines_are_errors(data: Path, tmp_path: Path, labels: str, message: str) -> None:
    folder = _dataset(tmp_path, data, labels)
    with pytest.raises(FormatError, match=message):
        list(yolo.read(str(folder)))


def test_a_folder_without_images_or_classes_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"cannot read .*classes\.txt"):
        list(yolo.read(str(tmp_path)))
    (tmp_path / "classes.txt").write_text("car\n")
    with pytest.raises(FormatError, match=re.escape("neither images.txt nor an images/ folder")):
        list(yolo.read(str(tmp_path)))


def test_two_images_with_one_label_file_is_an_error(tmp_path: Path) -> None:
    images = [
        Image("s3://b/x/a.jpg", 100, 100, boxes=[Box("car", 1, 1, 10, 10)]),
        Image("s3://b/y/a.png", 100, 100, boxes=[Box("car", 1, 1, 10, 10)]),
    ]
    with pytest.raises(FormatError, match=re.escape("both need labels/a.txt")):
        yolo.write(images, str(tmp_path))


def test_label_paths_mirror_the_images_folder() -> None:
    assert str(yolo.label_path("images/sub/a.jpg")) == "labels/sub/a.txt"
    assert str(yolo.label_path("a.jpg")) == "labels/a.txt"
    assert str(yolo.label_path("s3://bucket/images/a.jpg")) == "labels/a.txt"
