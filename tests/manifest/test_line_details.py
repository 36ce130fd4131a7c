"""Every problem says why: beside AWS's exact code and message, a detail naming the field, the
value found and the rule (never written into the stored line)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from test_line_codes import CASES

from manifestdb.manifest import Dropped, check_line
from support.line_builders import box, box_pair, entry_of, image_pair, make_line, stored

BB = "bounding-box"


def problem(line: dict[str, Any], code: str) -> Any:
    (found,) = [p for p in entry_of(line).problems if p.code == code]
    return found


@pytest.mark.parametrize(("line", "code"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_every_error_has_a_detail_that_is_not_stored(line: dict[str, Any], code: str) -> None:
    found = problem(line, code)
    assert found.detail and len(found.detail) > 20, found
    assert found.detail not in orjson.dumps(stored(entry_of(line))).decode()


def test_a_classification_label_without_confidence_names_the_field() -> None:
    """A real Ground Truth classification manifest whose metadata lacks `confidence`."""
    line = make_line(image_pair("sport", confidence=None))
    assert problem(line, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT").detail == (
        "sport-metadata.confidence is missing: it must be a number from 0 to 1"
    )
    assert problem(line, "ERROR_NO_VALID_LABEL_ATTRIBUTES").detail == (
        "every label attribute of the line has an error (sport): see their errors"
    )


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("confidence", 1.5, "sport-metadata.confidence is 1.5 (a number): it must be a number"),
        ("confidence", "0.9", 'sport-metadata.confidence is "0.9" (a string)'),
        ("class_name", 7, "sport-metadata.class-name is 7 (a number): it must be a string"),
        ("human_annotated", "Y", 'sport-metadata.human-annotated is "Y" (a string): it must be'),
        ("creation_date", None, "sport-metadata.creation-date is missing"),
    ],
)
def test_image_level_metadata_details(field: str, value: Any, says: str) -> None:
    line = make_line(image_pair("sport", **{field: value}))
    detail = problem(line, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT").detail
    assert detail.startswith(says), detail


def test_an_image_too_large_says_its_size_and_the_limit() -> None:
    """A real layout-detection manifest of 3509 x 4963 images."""
    line = make_line(box_pair(size=(3509, 4963)))
    assert problem(line, "ERROR_INVALID_IMAGE_DIMENSION").detail == (
        "bounding-box.image_size is 3509 x 4963 pixels: each side must be 64 to 4096 pixels"
    )
    narrow = make_line(box_pair(size=(4000, 100), boxes=[box(width=20, height=20)]))
    assert problem(narrow, "ERROR_INVALID_IMAGE_DIMENSION").detail == (
        "bounding-box.image_size is 4000 x 100 pixels: the longer side may be at most 20 times"
        " the shorter"
    )


def test_box_details_name_the_annotation_and_the_numbers() -> None:
    line = make_line(box_pair(boxes=[box(left=600, width=41), box(top=-1), box(width=1)]))
    details = [p.detail for p in entry_of(line).problems if p.annotation_index is not None]
    assert details == [
        "bounding-box.annotations[0]: left + width = 641 is past the image's width, 640",
        "bounding-box.annotations[1].top is -1: it must not be negative",
        "bounding-box.annotations[2] is 1 x 80 pixels: both sides must be more than 1 pixel",
    ]


def dropped(raw: bytes | str) -> Dropped:
    result = check_line(raw, 1)
    assert isinstance(result, Dropped), result
    return result


@pytest.mark.parametrize(
    ("source_ref", "says"),
    [
        (
            "s3://m/a.jpg",
            'the bucket name "m" of source-ref "s3://m/a.jpg" is invalid: it has 1 character; a'
            " bucket name has 3 to 255 characters, each a letter, a digit, '.', '-' or '_'",
        ),
        ("s3://my bucket/a.jpg", "it holds ' '; a bucket name has"),
        ("S3://bucket/a.jpg", "must start with s3:// in lower case"),
        ("https://bucket/a.jpg", "must start with s3://"),
        ("s3://bucket", "has a bucket but no object key"),
        ("s3://bucket/", "has an empty object key"),
        ("s3://bucket/" + "k" * 1025, "is 1025 characters long: S3 keys have at most 1024"),
        ("s3://bucket/a\u0000.jpg", "holds a NUL character"),
    ],
)
def test_a_bad_source_ref_says_what_is_wrong(source_ref: str, says: str) -> None:
    result = dropped(orjson.dumps({"source-ref": source_ref}))
    assert result.code == "ERROR_INVALID_SOURCE_REF_FORMAT"
    assert result.message == "The source-ref is not an S3 URL of the form s3://bucket/key."
    assert result.detail is not None and says in result.detail, result.detail


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"sourceref": "s3://bucket/a"}', "no source-ref key (its keys: sourceref)"),
        (b'{"source-ref": 3}', "source-ref is 3 (a number): it must be a string"),
        (b'["s3://bucket/a"]', "the line is an array, not an object"),
        (b'{"source-ref": "s3://bucket/\xff"}', "byte 28 (0xff) is not UTF-8"),
        (b'{"source-ref": "s3://bucket/a",}', "not JSON: "),
        (b'{"source-ref":"s3://bucket/a","x":"' + b"y" * 100_000 + b'"}', "at most 100,000"),
    ],
)
def test_a_dropped_line_says_why(raw: bytes, says: str) -> None:
    result = dropped(raw)
    assert result.detail is not None and says in result.detail, result.detail
