"""Each non-terminal code and warning of check_line: level, place in the JSON, exact message."""

from __future__ import annotations

from typing import Any

import pytest

from manifestdb.manifest import codes
from support.line_builders import (
    at,
    box,
    box_pair,
    entry_of,
    image_pair,
    make_line,
    stored,
    without_service_keys,
)

BB = "bounding-box"
BBM = "bounding-box-metadata"
UNSUPPORTED = "The use case type of the {}-metadata label attribute metadata is unsupported."
UNSUPPORTED += " Check the type field."

# (case id, line, code, level where written, path of the object holding it, exact message)
CASES: list[tuple[str, dict[str, Any], str, str, tuple[str | int, ...], str]] = [
    (
        "orphan metadata",
        make_line(**{"foo-metadata": {"class-name": "x"}}),
        "ERROR_NO_LABEL_ATTRIBUTES",
        "line",
        (),
        "No label attributes found.",
    ),
    (
        "object without metadata",
        make_line(foo={"annotations": []}),
        "ERROR_NO_LABEL_ATTRIBUTES",
        "line",
        (),
        "No label attributes found.",
    ),
    (
        "box attribute without image_size",
        make_line({BB: {"annotations": [box()]}, BBM: box_pair()[BBM]}),
        "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
        "attribute",
        (BB,),
        "The format of the label attribute bounding-box is invalid.",
    ),
    (
        "image-level value not an integer (written in its metadata)",
        make_line(image_pair("sport", value="1")),
        "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
        "metadata",
        ("sport-metadata",),
        "The format of the label attribute sport is invalid.",
    ),
    (
        "metadata without confidence",
        make_line(image_pair("sport", confidence=None)),
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
        "metadata",
        ("sport-metadata",),
        "The format of the label attribute metadata is invalid.",
    ),
    (
        "metadata not an object (written at the line)",
        make_line({"sport": 1, "sport-metadata": "groundtruth/image-classification"}),
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
        "line",
        (),
        "The format of the label attribute metadata is invalid.",
    ),
    (
        "unsupported type",
        make_line(box_pair("BB", type="groundtruth/semantic-segmentation")),
        "ERROR_UNSUPPORTED_USE_CASE_TYPE",
        "metadata",
        ("BB-metadata",),
        UNSUPPORTED.format("BB"),
    ),
    (
        "no valid label attributes",
        make_line(box_pair("BB", type="groundtruth/wrongtype")),
        "ERROR_NO_VALID_LABEL_ATTRIBUTES",
        "line",
        (),
        "No valid label attributes found.",
    ),
    (
        "class-name holding a NUL",
        make_line(image_pair("sport", class_name="foot\x00ball")),
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
        "metadata",
        ("sport-metadata",),
        "The format of the label attribute metadata is invalid.",
    ),
    (
        "class-map name holding a NUL",
        make_line(box_pair(class_map={"0": "c\x00t"})),
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
        "metadata",
        (BBM,),
        "The format of the label attribute metadata is invalid.",
    ),
    (
        "empty class-map name",
        make_line(box_pair(class_map={"0": ""})),
        "ERROR_INVALID_LABEL_NAME_LENGTH",
        "attribute",
        (BB,),
        "The label name length is invalid.",
    ),
    (
        "class-name over 255 characters (written in its metadata)",
        make_line(image_pair("sport", class_name="x" * 256)),
        "ERROR_INVALID_LABEL_NAME_LENGTH",
        "metadata",
        ("sport-metadata",),
        "The label name length is invalid.",
    ),
    (
        "box off the frame",
        make_line(box_pair(boxes=[box(left=600, width=41)])),
        "ERROR_INVALID_BOUNDING_BOX",
        "annotation",
        (BB, "annotations", 0),
        "The bounding box has off frame values.",
    ),
    (
        "box with a negative value",
        make_line(box_pair(boxes=[box(top=-1)])),
        "ERROR_INVALID_BOUNDING_BOX",
        "annotation",
        (BB, "annotations", 0),
        "The bounding box has off frame values.",
    ),
    (
        "box 1x1",
        make_line(box_pair(boxes=[box(width=1, height=1)])),
        "ERROR_BOUNDING_BOX_TOO_SMALL",
        "annotation",
        (BB, "annotations", 0),
        "The height and width of the bounding box is too small.",
    ),
    (
        "class id not in the class-map",
        make_line(box_pair(boxes=[box(class_id=7)])),
        "ERROR_MISSING_CLASS_MAP_ID",
        "annotation",
        (BB, "annotations", 0),
        "One of more class ids is missing from the class map.",
    ),
    (
        "fewer confidences than boxes",
        make_line(box_pair(boxes=[box(), box()], objects=[{"confidence": 1}])),
        "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE",
        "metadata",
        (BBM,),
        "One or more bounding boxes has a missing confidence value.",
    ),
    (
        "51 boxes",
        make_line(box_pair(boxes=[box() for _ in range(51)])),
        "ERROR_TOO_MANY_BOUNDING_BOXES",
        "attribute",
        (BB,),
        "There are more bounding boxes than the allowed maximum.",
    ),
    (
        "no valid box",
        make_line(box_pair(boxes=[box(class_id=3), box(width=0)])),
        "ERROR_NO_VALID_ANNOTATIONS",
        "attribute",
        (BB,),
        "No valid annotations found.",
    ),
    (
        "image narrower than 64",
        make_line(box_pair(size=(63, 480), boxes=[box(width=20)])),
        "ERROR_INVALID_IMAGE_DIMENSION",
        "line",
        (),
        "The image dimension(s) do not conform to allowed dimensions.",
    ),
    (
        "image taller than 4096",
        make_line(box_pair(size=(640, 4097))),
        "ERROR_INVALID_IMAGE_DIMENSION",
        "line",
        (),
        "The image dimension(s) do not conform to allowed dimensions.",
    ),
    (
        "aspect ratio over 20:1",
        make_line(box_pair(size=(2100, 100), boxes=[box(height=50)])),
        "ERROR_INVALID_IMAGE_DIMENSION",
        "line",
        (),
        "The image dimension(s) do not conform to allowed dimensions.",
    ),
]

WARNINGS: list[tuple[str, dict[str, Any], str, str]] = [
    ("only source-ref", make_line(), "WARNING_UNANNOTATED_RECORD", "Record is unannotated."),
    (
        "box attribute without boxes",
        make_line(box_pair(boxes=[], class_map={})),
        "WARNING_NO_ANNOTATIONS",
        "No annotations were found.",
    ),
]


@pytest.mark.parametrize(
    ("line", "code", "level", "path", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_error_code(
    line: dict[str, Any], code: str, level: str, path: tuple[str | int, ...], message: str
) -> None:
    entry = entry_of(line)
    written = stored(entry)
    assert {"code": code, "message": message} in at(written, path)["errors"]
    assert any(p.code == code and p.level == level and p.message == message for p in entry.problems)
    assert entry.has_errors
    assert without_service_keys(written) == line  # everything else survives
    assert list(written)[-1] == "cl-metadata"


@pytest.mark.parametrize(
    ("line", "code", "message"), [case[1:] for case in WARNINGS], ids=[c[0] for c in WARNINGS]
)
def test_warning_code(line: dict[str, Any], code: str, message: str) -> None:
    entry = entry_of(line)
    written = stored(entry)
    assert written["warnings"] == [{"code": code, "message": message}]
    assert "errors" not in written
    assert [(p.code, p.level, p.warning) for p in entry.problems] == [(code, "line", True)]
    assert not entry.has_errors
    assert without_service_keys(written) == line


def test_every_non_terminal_code_has_a_case() -> None:
    covered = {case[2] for case in CASES} | {case[2] for case in WARNINGS}
    assert covered == {code.code for code in codes.NON_TERMINAL_CODES}


def test_level_of_each_code_matches_the_spec_table() -> None:
    for case in CASES:
        spec_level = next(c.level for c in codes.NON_TERMINAL_CODES if c.code == case[2])
        # A problem moves out only when its own object is not a JSON object.
        assert case[3] == spec_level or "written" in case[0]
