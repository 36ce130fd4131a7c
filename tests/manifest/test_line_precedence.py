"""check_line on lines that trigger several codes, dropped lines, and the stored form."""

from __future__ import annotations

import orjson
import pytest

from manifestdb.manifest import AWS_LIMITS, Limits, check_line
from support.line_builders import (
    REF,
    at,
    box,
    box_pair,
    dropped_of,
    entry_of,
    image_pair,
    make_line,
    raw,
    stored,
    without_service_keys,
)


def codes_of(line: dict[str, object]) -> list[tuple[str, str]]:
    return [(p.code, p.level) for p in entry_of(line).problems]


# -- dropped lines ------------------------------------------------------------------------------

LONG = b'{"source-ref":"s3://bucket/a.jpg","pad":"' + b"x" * 100_000 + b'"}'


TOO_LONG = ("ERROR_JSON_LINE_TOO_LONG", "The line is longer than 100000 characters.")
NOT_JSON = ("ERROR_INVALID_JSON_LINE", "The line is not valid JSON.")
NOT_UTF8 = ("ERROR_INVALID_JSON_LINE", "The line is not valid UTF-8 text.")
NOT_OBJECT = ("ERROR_INVALID_JSON_LINE", "The line is not a JSON object.")
TOO_DEEP = ("ERROR_INVALID_JSON_LINE", "The line nests JSON values too deeply.")
NO_REF = ("ERROR_MISSING_SOURCE_REF", "The line has no source-ref.")
REF_NOT_STRING = ("ERROR_MISSING_SOURCE_REF", "The source-ref is not a string.")
BAD_REF = (
    "ERROR_INVALID_SOURCE_REF_FORMAT",
    "The source-ref is not an S3 URL of the form s3://bucket/key.",
)
DROPPED = {
    "too long": (LONG, TOO_LONG),
    "too long beats not UTF-8": (LONG[:-2] + b"\xff", TOO_LONG),
    "not JSON": (b'{"source-ref": "s3://b/k"', NOT_JSON),
    "not UTF-8": (b'{"source-ref": "s3://bucket/\xff"}', NOT_UTF8),
    "lone surrogate": ('{"source-ref": "s3://bucket/\ud800"}', NOT_UTF8),
    "array": (b'["s3://bucket/a.jpg"]', NOT_OBJECT),
    "string": (b'"s3://bucket/a.jpg"', NOT_OBJECT),
    "number out of range": (b'{"source-ref":"s3://bucket/a","x":1e400}', NOT_JSON),
    "too deep": ('{"source-ref":"s3://bucket/k","x":' + "[" * 300 + "]" * 300 + "}", TOO_DEEP),
    "source-ref missing": (b'{"sourceref": "s3://bucket/a.jpg"}', NO_REF),
    "source-ref null": (b'{"source-ref": null}', REF_NOT_STRING),
    "source-ref array": (b'{"source-ref": ["s3://bucket/a"]}', REF_NOT_STRING),
    "no scheme": (b'{"source-ref": "bucket/a.jpg"}', BAD_REF),
    "upper-case scheme": (b'{"source-ref": "S3://bucket/a.jpg"}', BAD_REF),
    "empty key": (b'{"source-ref": "s3://bucket/"}', BAD_REF),
    "no key": (b'{"source-ref": "s3://bucket"}', BAD_REF),
    "bucket too short": (b'{"source-ref": "s3://b/key"}', BAD_REF),
    "space in bucket": (b'{"source-ref": "s3://my bucket/key"}', BAD_REF),
    "key too long": ('{"source-ref": "s3://bucket/' + "k" * 1025 + '"}', BAD_REF),
    "NUL in the key": (b'{"source-ref": "s3://bucket/a\\u0000b.jpg"}', BAD_REF),
}


@pytest.mark.parametrize(("line", "expected"), DROPPED.values(), ids=DROPPED.keys())
def test_dropped_line(line: bytes | str, expected: tuple[str, str]) -> None:
    dropped = dropped_of(line, 7)
    assert (dropped.line_number, dropped.code, dropped.message) == (7, *expected)
    text = line if isinstance(line, str) else line.decode("utf-8", "replace")
    assert dropped.excerpt == text[:200].encode("utf-8", "replace").decode()


def test_length_counts_characters_not_bytes() -> None:
    line = make_line(pad="é" * 60_000)  # 120,000 bytes, under 100,000 characters
    assert len(raw(line)) > 100_000
    entry_of(raw(line))
    assert check_line(raw(line), 1, Limits(max_line_chars=60_000)) is not None
    assert dropped_of(raw(make_line(pad="é" * 100_000))).code == "ERROR_JSON_LINE_TOO_LONG"


@pytest.mark.parametrize("line", [b"", b"   ", b"\t \r", " \x0c ", " " * 200_000])
def test_blank_line_is_none(line: bytes | str) -> None:
    assert check_line(line, 1) is None


def test_upper_case_legacy_bucket_is_accepted() -> None:
    entry = entry_of(make_line(source_ref="s3://AWSDOC-EXAMPLE-BUCKET/x/y.jpg"))
    assert entry.bucket == "AWSDOC-EXAMPLE-BUCKET"
    assert entry.source_ref == "s3://AWSDOC-EXAMPLE-BUCKET/x/y.jpg"


# -- several codes on one line --------------------------------------------------------------------


def test_unsupported_type_stops_the_pair() -> None:
    pair = {"BB": "not a box", "BB-metadata": {"type": "groundtruth/other"}}
    assert codes_of(make_line(pair)) == [
        ("ERROR_UNSUPPORTED_USE_CASE_TYPE", "metadata"),
        ("ERROR_NO_VALID_LABEL_ATTRIBUTES", "line"),
    ]


def test_attribute_format_beats_metadata_format() -> None:
    line = make_line(box_pair(size=(0, 0), creation_date=None))
    line["bounding-box"]["image_size"] = "640x480"
    assert codes_of(line) == [
        ("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "attribute"),
        ("ERROR_NO_VALID_LABEL_ATTRIBUTES", "line"),
    ]


def test_missing_type_is_a_metadata_format_error() -> None:
    assert codes_of(make_line(image_pair(type=None)))[0] == (
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
        "metadata",
    )


def test_multilabel_array_form_is_an_attribute_format_error() -> None:
    pair = {
        "animals": [1, 0],
        "animals-metadata": {
            "class-map": {"0": "dog", "1": "cat"},
            "type": "groundtruth/image-classification-multilabel",
            "human-annotated": "yes",
            "creation-date": "2020-02-27T21:36:25.000201",
            "confidence-map": {"0": 0.9, "1": 0.8},
        },
    }
    entry = entry_of(make_line(pair))
    assert [(p.code, p.level) for p in entry.problems] == [
        ("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "metadata"),
        ("ERROR_NO_VALID_LABEL_ATTRIBUTES", "line"),
    ]
    assert entry.is_labeled and entry.labels == {}


def test_multilabel_type_with_one_class_name_is_an_image_level_label() -> None:
    multilabel = "groundtruth/image-classification-multilabel"
    line = make_line(image_pair("cars-0", "sedan", type=multilabel))
    entry = entry_of(line)
    assert entry.problems == [] and entry.labels == {"sedan": 0}


def test_off_frame_box_is_not_judged_for_size_but_for_its_class() -> None:
    line = make_line(box_pair(boxes=[box(class_id=9, left=-5, width=1)]))
    written = stored(entry_of(line))
    assert [e["code"] for e in written["bounding-box"]["annotations"][0]["errors"]] == [
        "ERROR_INVALID_BOUNDING_BOX",
        "ERROR_MISSING_CLASS_MAP_ID",
    ]


def test_one_bad_box_marks_that_box_only() -> None:
    boxes = [box(0), box(1, width=1), box(1), box(5)]
    entry = entry_of(make_line(box_pair(boxes=boxes, class_map={"0": "cat", "1": "dog"})))
    written = stored(entry)
    marked = [("errors" in item) for item in written["bounding-box"]["annotations"]]
    assert marked == [False, True, False, True]
    assert entry.labels == {"cat": 1, "dog": 1}
    assert entry.has_errors and "errors" not in written


def test_pair_level_errors_invalidate_its_boxes() -> None:
    line = make_line(
        box_pair(
            size=(50, 50),
            boxes=[box(left=0, top=0, width=10, height=10)] * 51,
            objects=[{"confidence": 1}],
        ),
    )
    entry = entry_of(line)
    assert [(p.code, p.level) for p in entry.problems] == [
        ("ERROR_INVALID_IMAGE_DIMENSION", "line"),
        ("ERROR_TOO_MANY_BOUNDING_BOXES", "attribute"),
        ("ERROR_MISSING_BOUNDING_BOX_CONFIDENCE", "metadata"),
        ("ERROR_NO_VALID_LABEL_ATTRIBUTES", "line"),
    ]
    assert entry.labels == {}


def test_a_valid_pair_beside_an_invalid_one_keeps_its_labels() -> None:
    line = make_line(image_pair("a", "cat"), box_pair("b", boxes=[box(class_id=4)]))
    entry = entry_of(line)
    assert [(p.code, p.level) for p in entry.problems] == [
        ("ERROR_MISSING_CLASS_MAP_ID", "annotation"),
        ("ERROR_NO_VALID_ANNOTATIONS", "attribute"),
    ]
    assert entry.labels == {"cat": 0}


def test_line_level_errors_then_warnings_then_cl_metadata() -> None:
    line = make_line(box_pair(boxes=[], class_map={}), extra={"not": "a label"})
    written = stored(entry_of(line))
    assert list(written) == [
        "source-ref",
        "bounding-box",
        "bounding-box-metadata",
        "extra",
        "errors",
        "warnings",
        "cl-metadata",
    ]
    assert written["errors"][0]["code"] == "ERROR_NO_LABEL_ATTRIBUTES"
    assert written["warnings"][0]["code"] == "WARNING_NO_ANNOTATIONS"
    assert written["cl-metadata"] == {"is_labeled": True}


def test_same_line_error_from_two_attributes_is_written_once() -> None:
    line = make_line(box_pair("a", size=(10, 10), boxes=[]), box_pair("b", size=(10, 10), boxes=[]))
    written = stored(entry_of(line))
    assert [e["code"] for e in written["errors"]] == [
        "ERROR_INVALID_IMAGE_DIMENSION",
        "ERROR_NO_VALID_LABEL_ATTRIBUTES",
    ]


def test_orphan_metadata_with_valid_pair_keeps_labels() -> None:
    line = make_line(image_pair("a", "cat"), **{"b-metadata": {"class-name": "dog"}})
    entry = entry_of(line)
    assert [(p.code, p.attribute) for p in entry.problems] == [
        ("ERROR_NO_LABEL_ATTRIBUTES", "b-metadata")
    ]
    assert entry.labels == {"cat": 0} and entry.is_labeled


# -- the stored form ----------------------------------------------------------------------------


def test_service_keys_from_a_client_are_recomputed_at_every_level() -> None:
    stale = [{"code": "ERROR_OLD", "message": "old"}]
    line = make_line(box_pair(boxes=[box(), box(width=1)]))
    line["bounding-box"]["warnings"] = stale
    line["bounding-box"]["annotations"][0]["errors"] = stale
    line["bounding-box-metadata"]["cl-errors"] = stale
    line.update({"cl-metadata": {"is_labeled": False}, "errors": stale, "cl-errors": stale})
    written = stored(entry_of(line))
    assert "ERROR_OLD" not in orjson.dumps(written).decode()
    assert written["cl-metadata"] == {"is_labeled": True}
    assert without_service_keys(written) == without_service_keys(line)
    assert at(written, ("bounding-box", "annotations", 1))["errors"][0]["code"] == (
        "ERROR_BOUNDING_BOX_TOO_SMALL"
    )


def test_valid_line_keeps_user_keys_and_order() -> None:
    line = {"zeta": [1, {"b": 2}], "source-ref": REF, **image_pair("x"), "alpha": None}
    written = stored(entry_of(line))
    assert list(written) == ["zeta", "source-ref", "x", "x-metadata", "alpha", "cl-metadata"]
    expected = orjson.dumps({**line, "cl-metadata": {"is_labeled": True}}).decode()
    assert entry_of(line).line == expected


def test_box_at_the_frame_edge_is_inside() -> None:
    whole_frame = box(left=0, top=0, width=640, height=480)
    entry = entry_of(make_line(box_pair(size=(640, 480), boxes=[whole_frame])))
    assert entry.problems == [] and entry.labels == {"cat": 1}


def test_fractional_box_values_are_accepted() -> None:
    entry = entry_of(make_line(box_pair(boxes=[box(left=1.5, top=2.25, width=10.5, height=3.5)])))
    assert entry.problems == []


@pytest.mark.parametrize(
    "change",
    [
        {"confidence": 1.5},
        {"confidence": True},
        {"confidence": "0.9"},
        {"human_annotated": "maybe"},
        {"creation_date": 20210711},
        {"job_name": None},
        {"class_name": 3},
    ],
    ids=[
        "confidence over 1",
        "confidence bool",
        "confidence string",
        "human-annotated",
        "creation-date number",
        "job-name null",
        "class-name number",
    ],
)
def test_image_metadata_shapes(change: dict[str, object]) -> None:
    pair = image_pair("x")
    for key, value in change.items():
        pair["x-metadata"][key.replace("_", "-")] = value
    expected = ("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "metadata")
    assert codes_of(make_line(pair))[0] == expected


@pytest.mark.parametrize("value", [True, 1.0, "1", None, [1], {"v": 1}])
def test_image_value_must_be_an_integer(value: object) -> None:
    assert codes_of(make_line(image_pair("x", value=value)))[0][0] == (
        "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"
    )


def test_job_name_is_optional() -> None:
    assert entry_of(make_line(image_pair(job_name=None))).problems == []


def test_relaxed_limits_do_not_change_line_checks() -> None:
    line = raw(make_line(box_pair(boxes=[box()] * 51)))
    relaxed = check_line(line, 1, Limits(name="relaxed", max_entries_per_dataset=None))
    assert relaxed == check_line(line, 1, AWS_LIMITS)
