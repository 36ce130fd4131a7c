"""The public sample manifests in tests/data/samples, judged line by line and as changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from manifestdb.manifest import ChangeReader, Entry, check_line

SAMPLES = Path(__file__).parent.parent / "data" / "samples"


def entries(name: str) -> list[Entry]:
    found = []
    for number, line in enumerate((SAMPLES / name).read_bytes().splitlines(), 1):
        result = check_line(line, number)
        assert isinstance(result, Entry), result
        found.append(result)
    return found


def test_jufeng_classification() -> None:
    lines = entries("jufeng_vehicle_classification.manifest")
    assert len(lines) == 10
    assert all(e.is_labeled and not e.has_errors and e.problems == [] for e in lines)
    assert lines[0].labels == {"Helicopter": 0}
    names = {name for e in lines for name in e.labels}
    assert names == {"Helicopter", "Ferry", "Airplane", "Car", "Motorbike"}


def test_ksmin23_class_ids_resolve_to_names_per_line() -> None:
    lines = entries("ksmin23_animals_object_detection.manifest")
    assert all(e.problems == [] for e in lines)
    # "cat" is id 5 on line 1, id 4 on line 3: the same label.
    assert lines[0].labels == {"cat": 1, "animal": 2, "dog": 1}
    assert lines[2].labels == {"cat": 5, "dog": 1, "lady": 1}
    assert lines[3].labels == {"baby": 1, "bulldog": 3}
    assert lines[7].labels == {"bulldog": 1, "dog": 2, "cat": 2, "animal": 5}  # 10 boxes


def test_t04glovern_first_line_without_boxes() -> None:
    lines = entries("t04glovern_cat_object_detection_with_empty.manifest")
    first = lines[0]
    assert first.is_labeled and not first.has_errors and first.labels == {}
    assert [(p.code, p.level, p.warning) for p in first.problems] == [
        ("WARNING_NO_ANNOTATIONS", "line", True)
    ]
    assert orjson.loads(first.line)["warnings"] == [
        {"code": "WARNING_NO_ANNOTATIONS", "message": "No annotations were found."}
    ]
    assert [e.labels for e in lines[1:]] == [{"Cat": 1}, {"Cat": 2}, {"Cat": 1}]


DOC_EXPECTED: list[tuple[dict[str, int], list[str]]] = [
    ({"Echo Dot": 0}, []),
    ({"football": 0, "ball": 0}, []),
    ({"Echo Dot": 1, "Echo": 1}, []),
    ({"mediterranean_spurge": 0, "with_leaves": 0}, []),
    ({"camellia": 0, "with_leaves": 0}, []),
    ({"Echo": 1}, ["ERROR_BOUNDING_BOX_TOO_SMALL"]),
    ({}, ["ERROR_UNSUPPORTED_USE_CASE_TYPE", "ERROR_NO_VALID_LABEL_ATTRIBUTES"]),
    ({}, ["WARNING_NO_ANNOTATIONS"]),
    ({}, ["WARNING_UNANNOTATED_RECORD"]),
    ({}, ["ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "ERROR_NO_VALID_LABEL_ATTRIBUTES"]),
    ({"akita": 0}, []),
]


def test_doc_examples_line_by_line() -> None:
    lines = entries("doc_examples_manifest_lines.jsonl")
    assert [(e.labels, [p.code for p in e.problems]) for e in lines] == DOC_EXPECTED
    assert [e.is_labeled for e in lines] == [True] * 8 + [False] + [True] * 2


def _error_objects(line: Any) -> list[Any]:
    """Every errors/warnings array element anywhere in a stored line."""
    found = []
    if isinstance(line, dict):
        for key, value in line.items():
            if key in ("errors", "warnings", "cl-errors"):
                found.extend(value)
            else:
                found.extend(_error_objects(value))
    elif isinstance(line, list):
        for item in line:
            found.extend(_error_objects(item))
    return found


@pytest.mark.parametrize("number", range(1, 12))
def test_doc_examples_do_not_pile_up(number: int) -> None:
    """A line that already carries errors/cl-metadata is stored with them recomputed once, and
    storing the stored line again changes nothing."""
    source = (SAMPLES / "doc_examples_manifest_lines.jsonl").read_bytes().splitlines()[number - 1]
    first = check_line(source, number)
    assert isinstance(first, Entry)
    again = check_line(first.line, number)
    assert isinstance(again, Entry)
    assert again.line == first.line and again.problems == first.problems
    stored = orjson.loads(first.line)
    assert len(_error_objects(stored)) == len(first.problems)
    assert "cl-errors" not in first.line and first.line.count('"cl-metadata"') == 1
    assert "WARNING_NO_ATTRIBUTE_ANNOTATIONS" not in first.line


def test_doc_examples_as_one_change_drop_repeated_source_refs() -> None:
    reader = ChangeReader()
    data = (SAMPLES / "doc_examples_manifest_lines.jsonl").read_bytes()
    kept = list(reader.read([data]))
    assert [e.line_number for e in kept] == [1, 2, 3, 4, 5, 6, 7, 10, 11]
    assert [(d.line_number, d.code) for d in reader.dropped] == [
        (8, "ERROR_DUPLICATE_SOURCE_REF"),
        (9, "ERROR_DUPLICATE_SOURCE_REF"),
    ]
    assert reader.terminal() is None  # 2 of 11 dropped: under 20%
    assert reader.entries_with_errors == 3


@pytest.mark.parametrize(
    "name",
    [
        "jufeng_vehicle_classification.manifest",
        "ksmin23_animals_object_detection.manifest",
        "t04glovern_cat_object_detection_with_empty.manifest",
    ],
)
def test_sample_manifests_are_accepted(name: str) -> None:
    reader = ChangeReader(is_manifest=True)
    data = (SAMPLES / name).read_bytes()
    kept = list(reader.read([data[i : i + 100] for i in range(0, len(data), 100)]))
    assert reader.terminal() is None and reader.dropped == [] and len(reader.buckets) == 1
    assert [e.line for e in kept] == [e.line for e in entries(name)]
