"""`manifestdb export` against a real server: round trips through push, filters, label formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image as PILImage
from toolkit_cli import Toolkit

from manifestdb.manifest.formats import ImageLocator, coco, voc, yolo
from support.lines import box_line, image_line, manifest
from support.server import Server, new_dataset

SIZE = (320, 240)


@pytest.fixture(scope="module")
def toolkit(server: Server) -> Toolkit:
    return Toolkit(server.url)


def raw_entries(client: Any, dataset_arn: str, **filters: Any) -> list[str]:
    """ListDatasetEntries' strings, every page, as the service returns them."""
    paginator = client.get_paginator("list_dataset_entries")
    return [
        entry
        for page in paginator.paginate(DatasetArn=dataset_arn, **filters)
        for entry in page["DatasetEntries"]
    ]


def varied_lines(count: int) -> list[dict[str, Any] | str]:
    """Labels a/b/c, boxes, bad boxes, unlabeled lines, user keys and non-ASCII names."""
    lines: list[dict[str, Any] | str] = []
    for index in range(count):
        ref = f"s3://bucket/set/{'été-' if index % 7 == 0 else ''}{index:04d}.jpg"
        kind = index % 5
        if kind == 0:
            line = image_line(ref, "a", "b")
        elif kind == 1:
            line = box_line(ref, [("c", 10, 10, 50, 40), ("a", 100, 20, 30, 30)], SIZE)
        elif kind == 2:
            line = box_line(ref, [("b", -4, 0, 20, 20)], SIZE)  # an error in the box
        elif kind == 3:
            line = {"source-ref": ref, "note": "unlabeled", "rank": 1.5}
        else:
            line = image_line(ref, "c")
            line["user-data"] = {"reviewed": True}  # an object without metadata: an error
        lines.append(line)
    return lines


@pytest.fixture(scope="module")
def varied(rekognition: Any) -> str:
    _, dataset = new_dataset(rekognition, manifest(*varied_lines(230)))
    return dataset


@pytest.mark.parametrize("strip", [False, True])
def test_export_then_push_gives_identical_entries(
    toolkit: Toolkit, rekognition: Any, varied: str, tmp_path: Path, strip: bool
) -> None:
    exported = tmp_path / "export.manifest"
    options = ["--strip-service-keys"] if strip else []

    outcome = toolkit.export(varied, "-o", str(exported), *options)

    assert outcome.exit_code == 0, outcome.stderr
    assert "exported 230 entries" in outcome.stderr
    original = raw_entries(rekognition, varied)
    written = exported.read_text(encoding="utf-8").splitlines()
    if strip:
        assert not any('"cl-metadata"' in line or '"errors"' in line for line in written)
    else:
        assert written == original  # exactly what ListDatasetEntries returns
    _, copy = new_dataset(rekognition)
    pushed = toolkit.push(str(exported), "--dataset-arn", copy)
    assert pushed.exit_code == 0, pushed.stderr
    assert raw_entries(rekognition, copy) == original


def test_export_to_stdout(toolkit: Toolkit, rekognition: Any, varied: str) -> None:
    outcome = toolkit.export(varied)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stdout_bytes.decode().splitlines() == raw_entries(rekognition, varied)
    assert "to standard output" in outcome.stderr


@pytest.mark.parametrize(
    ("options", "filters"),
    [
        (["--label", "a"], {"ContainsLabels": ["a"]}),
        (["--label", "b", "--label", "c"], {"ContainsLabels": ["b", "c"]}),
        (["--labeled"], {"Labeled": True}),
        (["--unlabeled"], {"Labeled": False}),
        (["--has-errors"], {"HasErrors": True}),
        (["--no-errors"], {"HasErrors": False}),
        (["--source-ref-contains", "été"], {"SourceRefContains": "été"}),
        (
            ["--label", "c", "--no-errors", "--source-ref-contains", "01"],
            {"ContainsLabels": ["c"], "HasErrors": False, "SourceRefContains": "01"},
        ),
    ],
)
def test_export_filters(
    toolkit: Toolkit, rekognition: Any, varied: str, options: list[str], filters: dict[str, Any]
) -> None:
    outcome = toolkit.export(varied, *options)

    assert outcome.exit_code == 0, outcome.stderr
    expected = raw_entries(rekognition, varied, **filters)
    assert expected  # every filter here matches something, and not everything
    assert len(expected) < 230
    assert outcome.stdout_bytes.decode().splitlines() == expected


def test_export_errors(toolkit: Toolkit, varied: str, tmp_path: Path) -> None:
    missing = varied[:-1] + ("1" if varied[-1] != "1" else "2")
    outcome = toolkit.export(missing)
    assert outcome.exit_code == 1
    assert "manifestdb export: ResourceNotFoundException:" in outcome.stderr

    outcome = toolkit.export(varied, *[arg for n in range(11) for arg in ("--label", f"l{n}")])
    assert outcome.exit_code == 1
    assert "ValidationException" in outcome.stderr or "ParamValidation" in outcome.stderr

    outcome = toolkit.export(varied, "--format", "yolo")
    assert outcome.exit_code == 2
    assert "yolo is written to a folder" in outcome.stderr


# -- label formats --------------------------------------------------------------------------

BOXES = {
    "s3://bucket/img/b0.png": [("cat", 10, 20, 100, 50), ("dog", 150, 30, 64, 64)],
    "s3://bucket/img/b1.png": [("dog", 0, 0, 320, 240)],
    "s3://bucket/img/b2.png": [("cat", 33, 44, 55, 66)],
}
LABELS = {"s3://bucket/img/c0.png": ["bird"], "s3://bucket/img/c1.png": ["bird", "cat"]}
UNLABELED = "s3://bucket/img/u0.png"


@pytest.fixture(scope="module")
def pictures(rekognition: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A dataset of box, image-level and unlabeled lines, and a local copy of its images."""
    root = tmp_path_factory.mktemp("images")
    lines: list[dict[str, Any]] = [box_line(ref, boxes, SIZE) for ref, boxes in BOXES.items()]
    lines += [image_line(ref, *labels) for ref, labels in LABELS.items()]
    lines.append({"source-ref": UNLABELED})
    for line in lines:
        path = root / line["source-ref"].removeprefix("s3://bucket/")
        path.parent.mkdir(parents=True, exist_ok=True)
        PILImage.new("RGB", SIZE).save(path)
    _, dataset = new_dataset(rekognition, manifest(*lines))
    return dataset, root


def boxes_of(images: Any) -> dict[str, list[tuple[str, float, float, float, float]]]:
    return {
        image.source_ref: [(b.label, b.left, b.top, b.width, b.height) for b in image.boxes]
        for image in images
        if image.boxes
    }


def test_export_coco(toolkit: Toolkit, pictures: tuple[str, Path], tmp_path: Path) -> None:
    dataset, root = pictures
    target = tmp_path / "coco.json"

    outcome = toolkit.export(
        dataset, "--format", "coco", "-o", str(target), "--images", str(root),
        "--s3-prefix", "s3://bucket/",
    )  # fmt: skip

    assert outcome.exit_code == 0, outcome.stderr
    images = list(coco.read(str(target)))
    assert [image.source_ref for image in images] == [*BOXES, *LABELS, UNLABELED]
    assert boxes_of(images) == BOXES
    assert {image.source_ref: image.labels for image in images if image.labels} == LABELS
    assert all((image.width, image.height) == SIZE for image in images)
    document = orjson.loads(target.read_bytes())
    assert [category["name"] for category in document["categories"]] == ["bird", "cat", "dog"]
    from pycocotools.coco import COCO

    loaded = COCO(str(target))
    assert len(loaded.getAnnIds()) == sum(len(boxes) for boxes in BOXES.values())
    assert len(loaded.getImgIds()) == len(BOXES) + len(LABELS) + 1


def test_export_yolo(toolkit: Toolkit, pictures: tuple[str, Path], tmp_path: Path) -> None:
    dataset, root = pictures
    target = tmp_path / "yolo"

    outcome = toolkit.export(dataset, "--format", "yolo", "-o", str(target))

    assert outcome.exit_code == 0, outcome.stderr
    assert "yolo cannot carry 3 image-level labels" in outcome.stderr
    assert (target / "classes.txt").read_text().split() == ["bird", "cat", "dog"]
    images = list(yolo.read(str(target), locator=ImageLocator(root, "s3://bucket/")))
    assert [image.source_ref for image in images] == [*BOXES, *LABELS, UNLABELED]
    assert boxes_of(images) == BOXES


def test_export_voc(toolkit: Toolkit, pictures: tuple[str, Path], tmp_path: Path) -> None:
    dataset, root = pictures
    target = tmp_path / "voc"

    outcome = toolkit.export(
        dataset, "--format", "voc", "-o", str(target), "--label", "cat", "--images", str(root),
        "--s3-prefix", "s3://bucket/",
    )  # fmt: skip

    assert outcome.exit_code == 0, outcome.stderr
    images = list(voc.read(str(target), locator=ImageLocator(root, "s3://bucket/")))
    refs = ["s3://bucket/img/b0.png", "s3://bucket/img/b2.png", "s3://bucket/img/c1.png"]
    assert sorted(image.source_ref for image in images) == refs
    assert boxes_of(images) == {ref: BOXES[ref] for ref in refs[:2]}
    assert [image.labels for image in images if image.labels] == [["bird", "cat"]]


def test_entries_a_format_cannot_read_are_skipped(toolkit: Toolkit, rekognition: Any) -> None:
    odd = image_line("s3://bucket/img/odd.png", "x")
    odd["label-metadata"]["type"] = "groundtruth/semantic-segmentation"  # stored, with an error
    boxed = box_line("s3://bucket/img/b.png", [("y", 1, 2, 30, 40)], SIZE)
    _, dataset = new_dataset(rekognition, manifest(odd, boxed))

    outcome = toolkit.export(dataset, "--format", "coco")

    assert outcome.exit_code == 0, outcome.stderr
    assert "skipped s3://bucket/img/odd.png: label attribute 'label'" in outcome.stderr
    assert "exported 1 of 2 entries to standard output (1 skipped)" in outcome.stderr
    document = orjson.loads(outcome.stdout_bytes)
    assert [image["file_name"] for image in document["images"]] == ["s3://bucket/img/b.png"]
    assert document["annotations"][0]["bbox"] == [1, 2, 30, 40]


@pytest.mark.parametrize("variable", ["MANIFESTDB_ENDPOINT_URL", "AWS_ENDPOINT_URL"])
def test_endpoint_from_the_environment(
    server: Server, rekognition: Any, varied: str, variable: str
) -> None:
    outcome = Toolkit(endpoint=None).export(varied, "--unlabeled", **{variable: server.url})
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stdout_bytes.decode().splitlines() == raw_entries(
        rekognition, varied, Labeled=False
    )
