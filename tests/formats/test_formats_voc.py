"""Pascal VOC: corner boxes to `left, top, width, height` and back, against hand-checked files."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from manifestdb.manifest import Entry
from manifestdb.manifest.formats import Box, FormatError, Image, voc
from manifestdb.manifest.formats.images import ImageLocator

PREFIX = "s3://bucket/pets/"


def objects(path: Path) -> list[tuple[str, list[str]]]:
    root = ElementTree.parse(path).getroot()
    return [
        (item.findtext("name") or "", [item.findtext(f"bndbox/{tag}") or "" for tag in
                                       ("xmin", "ymin", "xmax", "ymax")])
        for item in root.iterfind("object")
    ]  # fmt: skip


def test_voc_to_manifest_and_back(
    convert: Callable[..., Any],
    valid_manifest: Callable[[Path], list[Entry]],
    data: Path,
    tmp_path: Path,
) -> None:
    manifest, out = tmp_path / "pets.manifest", tmp_path / "voc"
    result = convert("--from", "voc", "--to", "manifest", data / "voc", "-o", manifest,
                     "--s3-prefix", PREFIX)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    valid_manifest(manifest)
    cat, street = map(orjson.loads, manifest.read_bytes().splitlines())
    # cat.xml's <path> is absolute (another machine's): the image is its <filename>.
    assert cat["source-ref"] == PREFIX + "cat.jpg"
    assert cat["bounding-box"] == {
        "image_size": [{"width": 300, "height": 168, "depth": 3}],
        "annotations": [{"class_id": 0, "top": 6, "left": 95, "width": 121, "height": 74}],
    }
    # street.xml: car 64 48 192 144 and person 400 120 480 360 (corners), label "outdoor".
    assert street["label-0-metadata"]["class-name"] == "outdoor"
    assert street["bounding-box"]["annotations"] == [
        {"class_id": 2, "top": 48, "left": 64, "width": 128, "height": 96},
        {"class_id": 3, "top": 120, "left": 400, "width": 80, "height": 240},
    ]
    result = convert("--from", "manifest", "--to", "voc", manifest, "-o", out)
    assert result.exit_code == 0, result.stderr
    for name in ("street.xml", "cat.xml"):
        assert objects(out / name) == objects(data / "voc" / name)
    street_xml = ElementTree.parse(out / "street.xml").getroot()
    assert street_xml.findtext("filename") == "street.png"
    assert street_xml.findtext("path") == PREFIX + "street.png"
    assert [street_xml.findtext(f"size/{tag}") for tag in ("width", "height", "depth")] == [
        "640",
        "480",
        "3",
    ]
    assert [label.text for label in street_xml.iterfind("label")] == ["outdoor"]
    # Read back, the written files give the same images (the s3:// <path> is the image).
    expected = [replace(i, source_ref=PREFIX + i.source_ref) for i in voc.read(str(data / "voc"))]
    assert list(voc.read(str(out))) == expected
    assert expected[1].boxes == [Box("car", 64, 48, 128, 96), Box("person", 400, 120, 80, 240)]


def test_devkit_layout_and_fractional_corners(data: Path, tmp_path: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text(
        "<annotation><filename>street.png</filename><object><name>kite</name><bndbox>"
        "<xmin>10.1</xmin><ymin>0</ymin><xmax>20.3</xmax><ymax>479.5</ymax>"
        "</bndbox></object></annotation>"
    )
    # No <size>: read from the image header under the locator's root.
    [image] = voc.read(str(tmp_path), locator=ImageLocator(data / "images"))
    assert image == Image(
        "street.png", 640, 480, 3, boxes=[Box("kite", 10.1, 0, 10.2, 479.5)], box_annotated=True
    )
    voc.write([image], str(tmp_path / "out"))
    assert objects(tmp_path / "out" / "street.xml") == [("kite", ["10.1", "0", "20.3", "479.5"])]


def test_sizes_missing_from_the_source_come_from_image_headers(
    convert: Callable[..., Any], data: Path, tmp_path: Path
) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("gray.png,sky\n")
    shutil.copy(data / "images" / "gray.png", tmp_path / "gray.png")
    result = convert("--from", "csv", "--to", "voc", csv, "-o", tmp_path / "voc")
    assert result.exit_code == 0, result.stderr
    root = ElementTree.parse(tmp_path / "voc" / "gray.xml").getroot()
    assert [root.findtext(f"size/{tag}") for tag in ("width", "height", "depth")] == [
        "200",
        "100",
        "1",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<annotation><filename>a.jpg", "not XML"),
        ("<image/>", "not a VOC file"),
        ("<annotation><size><width>64</width></size></annotation>", "no <filename> or <path>"),
        ("<annotation><filename>a.jpg</filename><object><name>x</name></object></annotation>",
         "object 0 has no name or no bndbox"),
        ("<annotation><filename>a.jpg</filename><object><name>x</name><bndbox><xmin>one</xmin>"
         "</bndbox></object></annotation>", "<xmin> is not a number"),
    ],
)  # fmt: skip
def test_malformed_files_are_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "a.xml").write_text(text)
    with pytest.raises(FormatError, match=message):
        list(voc.read(str(tmp_path)))


def test_two_images_with_one_stem_is_an_error(tmp_path: Path) -> None:
    images = [Image("s3://b/x/a.jpg", 64, 64), Image("s3://b/y/a.png", 64, 64)]
    with pytest.raises(FormatError, match=re.escape("both need a.xml")):
        voc.write(images, str(tmp_path))
