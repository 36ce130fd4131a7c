"""Ground Truth manifests and the multi-label array form: read, split, written valid."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from manifestdb.manifest import Entry, check_line
from manifestdb.manifest.formats import Box, FormatError, Image, groundtruth, multilabel
from manifestdb.manifest.formats.model import ClassIds

SAMPLES = ("ksmin23_animals_object_detection", "t04glovern_cat_object_detection_with_empty",
           "jufeng_vehicle_classification")  # fmt: skip
DATE = "2024-05-01T12:00:00.000000"


def sample(data: Path, name: str) -> Path:
    return data / "groundtruth" / f"{name}.manifest"


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_convert_to_valid_manifests_with_the_same_labels(
    name: str, data: Path, tmp_path: Path, valid_manifest: Callable[[Path], list[Entry]]
) -> None:
    source, out = sample(data, name), tmp_path / "out.manifest"
    groundtruth.write(groundtruth.read(str(source)), str(out), creation_date=DATE)
    assert list(groundtruth.read(str(out))) == list(groundtruth.read(str(source)))
    before = valid_manifest(source)
    after = valid_manifest(out)
    assert [(e.source_ref, e.labels, e.is_labeled) for e in after] == [
        (e.source_ref, e.labels, e.is_labeled) for e in before
    ]


@pytest.mark.parametrize("name", SAMPLES[:2])
def test_samples_through_coco_keep_every_box(
    name: str, convert: Callable[..., Any], data: Path, tmp_path: Path
) -> None:
    middle, out = tmp_path / "mid.json", tmp_path / "out.manifest"
    assert (
        convert("--from", "manifest", "--to", "coco", sample(data, name), "-o", middle).exit_code
        == 0
    )
    assert convert("--from", "coco", "--to", "manifest", middle, "-o", out).exit_code == 0
    original = list(groundtruth.read(str(sample(data, name))))
    converted = list(groundtruth.read(str(out)))

    def boxes(image: Image) -> tuple[str, list[Box], tuple[int | None, int | None] | None]:
        # COCO cannot carry "labeled, no boxes" (t04glovern's first line): no size then.
        return image.source_ref, image.boxes, (image.width, image.height) if image.boxes else None

    assert list(map(boxes, converted)) == list(map(boxes, original))
    assert sum(len(i.boxes) for i in converted) == sum(len(i.boxes) for i in original) > 0


def test_written_lines_have_stable_attribute_names() -> None:
    image = Image(
        "s3://b/a.jpg", 640, 480, labels=["sunny", "street"], boxes=[Box("car", 64, 48.5, 128, 96)]
    )
    ids = ClassIds(["car", "street", "sunny"])
    common = {"human-annotated": "yes", "creation-date": DATE}
    label = {"confidence": 1, "type": "groundtruth/image-classification", **common}
    assert groundtruth.line_of(image, ids, DATE) == {
        "source-ref": "s3://b/a.jpg",
        "label-0": 2,
        "label-0-metadata": {"class-name": "sunny", **label},
        "label-1": 1,
        "label-1-metadata": {"class-name": "street", **label},
        "bounding-box": {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [{"class_id": 0, "top": 48.5, "left": 64, "width": 128, "height": 96}],
        },
        "bounding-box-metadata": {
            "objects": [{"confidence": 1}],
            "class-map": {"0": "car"},
            "type": "groundtruth/object-detection",
            **common,
        },
    }


def test_multilabel_arrays_are_split_into_pairs(
    convert: Callable[..., Any],
    valid_manifest: Callable[[Path], list[Entry]],
    data: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "split.manifest"
    source = data / "multilabel" / "flowers.manifest"
    result = convert("--from", "multilabel", "--to", "groundtruth", source, "-o", out)
    assert result.exit_code == 0, result.stderr
    entries = valid_manifest(out)
    assert [(e.source_ref, list(e.labels), e.is_labeled) for e in entries] == [
        ("s3://AWSDOC-EXAMPLE-BUCKET/example_image.jpg", ["bicycle", "person", "clothing"], True),
        ("s3://bucket/flowers/rose.jpg", ["rose", "summer"], True),
        ("s3://bucket/flowers/none.jpg", [], False),
    ]
    first = orjson.loads(out.read_bytes().splitlines()[0])
    assert [first[f"label-{i}-metadata"]["class-name"] for i in range(3)] == [
        "bicycle",
        "person",
        "clothing",
    ]
    # The array form itself is not a line Rekognition accepts: that is why it is split.
    assert check_line(source.read_bytes().splitlines()[0], 1).has_errors  # type: ignore[union-attr]
    # groundtruth reads the array form too.
    same = convert("--from", "groundtruth", "--to", "groundtruth", source, "-o", tmp_path / "b")
    assert same.exit_code == 0
    assert list(groundtruth.read(str(tmp_path / "b"))) == list(groundtruth.read(str(out)))


def test_multilabel_is_written_as_arrays(tmp_path: Path) -> None:
    images = [
        Image("s3://b/1.jpg", labels=["rose", "tulip"]),
        Image("s3://b/2.jpg", labels=["tulip"], boxes=[Box("stem", 1, 1, 5, 5)]),
        Image("s3://b/3.jpg"),
    ]
    out = tmp_path / "arrays.manifest"
    summary = multilabel.write(images, str(out), creation_date=DATE)
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert lines[0]["labels"] == [0, 1]
    assert lines[0]["labels-metadata"] == {
        "class-map": {"0": "rose", "1": "tulip"},
        "confidence-map": {"0": 1, "1": 1},
        "type": "groundtruth/image-classification-multilabel",
        "human-annotated": "yes",
        "creation-date": DATE,
    }
    assert lines[1]["labels"] == [1]
    assert lines[2] == {"source-ref": "s3://b/3.jpg"}
    assert summary.dropped_boxes == 1
    assert [i.labels for i in multilabel.read(str(out))] == [["rose", "tulip"], ["tulip"], []]


def test_service_keys_and_user_keys_are_ignored(data: Path) -> None:
    lines = (data / "groundtruth" / "doc_examples_manifest_lines.jsonl").read_bytes().splitlines()
    camellia = groundtruth.image_of_line(orjson.loads(lines[4]), "x")  # has cl-metadata
    assert camellia.labels == ["camellia", "with_leaves"]
    flagged = groundtruth.image_of_line(orjson.loads(lines[5]), "x")  # box with errors
    assert flagged.boxes == [Box("Echo Dot", 0, 0, 1, 1), Box("Echo", 86, 65, 220, 334)]
    empty = groundtruth.image_of_line(orjson.loads(lines[7]), "x")  # warnings, no boxes
    assert (empty.boxes, empty.box_annotated, empty.is_labeled) == ([], True, True)
    user = {"source-ref": "s3://b/k.jpg", "note": "kept", "extra": {"a": 1}}
    assert groundtruth.image_of_line(user, "x") == Image("s3://b/k.jpg")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "in.manifest:2: not a JSON line"),
        (b"[1, 2]", "in.manifest:2: not a JSON object"),
        (b'{"a": 1}', "in.manifest:2: no source-ref"),
        (b'{"source-ref":"s3://b/k","x":{"annotations":[],"image_size":[{"width":64,"height":64,'
         b'"depth":3}]},"x-metadata":{"type":"groundtruth/wrongtype"}}',
         "label attribute 'x' has unsupported type 'groundtruth/wrongtype'"),
        (b'{"source-ref":"s3://b/k","x":{"annotations":[{"class_id":4,"left":1,"top":1,'
         b'"width":9,"height":9}],"image_size":[{"width":64,"height":64,"depth":3}]},'
         b'"x-metadata":{"type":"groundtruth/object-detection","class-map":{"0":"a"}}}',
         "class_id 4 of 'x' is not in its class-map"),
        (b'{"source-ref":"s3://b/k","x":[3],"x-metadata":{"class-map":{"0":"a"}}}',
         "class id 3 of 'x' is not in its class-map"),
        (b'{"source-ref":"s3://b/k","x":{"annotations":[{"class_id":0,"left":"1"}],"image_size":'
         b'[{"width":64}]},"x-metadata":{"type":"groundtruth/object-detection","class-map":{}}}',
         "annotation 0 of 'x' is not a box"),
        (b'{"source-ref":"s3://b/k","x":0,"x-metadata":{"type":"groundtruth/image-classification"}}',
         "x-metadata has no class-name"),
    ],
)  # fmt: skip
def test_malformed_lines_are_errors_with_line_numbers(
    tmp_path: Path, line: bytes, message: str
) -> None:
    source = tmp_path / "in.manifest"
    source.write_bytes(b'{"source-ref":"s3://b/ok.jpg"}\n' + line + b"\n\n")
    with pytest.raises(FormatError, match=message.replace("[", r"\[")):
        list(groundtruth.read(str(source)))


def test_writing_needs_s3_urls_once_each(tmp_path: Path) -> None:
    with pytest.raises(
        FormatError, match=re.escape("'images/a.jpg' has no s3:// URL: give --s3-prefix")
    ):
        groundtruth.write([Image("images/a.jpg")], str(tmp_path / "a"))
    with pytest.raises(FormatError, match=re.escape("image s3://b/a.jpg appears twice")):
        groundtruth.write([Image("s3://b/a.jpg"), Image("s3://b/a.jpg")], str(tmp_path / "b"))
    # A failed write leaves no file behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == []
