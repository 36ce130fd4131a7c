"""Properties of check_line and ChangeReader over generated input (bounded example counts)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manifestdb.manifest import ChangeReader, Dropped, Entry, check_line
from support.line_builders import box, box_pair, image_pair, make_line

# Bounded so the file runs in a few seconds; no example database written into the checkout.
FAST = settings(
    max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

SERVICE = ("cl-metadata", "errors", "warnings", "cl-errors")
keys = st.one_of(
    st.sampled_from(
        [
            "source-ref",
            "label",
            "label-metadata",
            "bounding-box",
            "annotations",
            "image_size",
            "class-map",
            "type",
            "errors",
            "warnings",
            "cl-metadata",
        ]
    ),
    st.text(max_size=12),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=12,
)


def judged_twice(result: Entry | Dropped | None) -> None:
    """A stored line judged again is stored unchanged, with the same verdict."""
    if isinstance(result, Entry):
        again = check_line(result.line, result.line_number)
        assert isinstance(again, Entry)
        assert again.line == result.line
        assert (again.labels, again.problems, again.is_labeled) == (
            result.labels,
            result.problems,
            result.is_labeled,
        )


@FAST
@given(json_values)
def test_any_json_value_never_raises(value: Any) -> None:
    judged_twice(check_line(orjson.dumps(value), 1))


@FAST
@given(st.dictionaries(keys, json_values, max_size=4))
def test_any_object_with_a_source_ref_is_stored_and_idempotent(extra: dict[str, Any]) -> None:
    line = {"source-ref": "s3://bucket/a.jpg", **extra}
    line["source-ref"] = "s3://bucket/a.jpg"
    result = check_line(orjson.dumps(line), 1)
    assert isinstance(result, Entry)
    assert list(orjson.loads(result.line))[-1] == "cl-metadata"
    judged_twice(result)


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_never_raise(data: bytes) -> None:
    judged_twice(check_line(data, 1))
    reader = ChangeReader(is_manifest=True)
    list(reader.read([data[:7], data[7:]]))
    reader.terminal()


@FAST
@given(st.text(max_size=200))
def test_any_text_never_raises(text: str) -> None:
    judged_twice(check_line(text, 1))


# -- valid lines ----------------------------------------------------------------------------------

# A label name holding a NUL is not valid (its metadata is malformed: test_line_codes).
label_names = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30
)
user_values = st.one_of(scalars, st.lists(scalars, max_size=3))
user_keys = st.text(max_size=10).filter(
    lambda k: k not in SERVICE and k != "source-ref" and not k.endswith("-metadata")
)


@st.composite
def image_pairs(draw: st.DrawFn, name: str) -> dict[str, Any]:
    return image_pair(
        name,
        draw(label_names),
        value=draw(st.integers(-5, 5)),
        confidence=draw(st.floats(0, 1)),
        human_annotated=draw(st.sampled_from(["yes", "no"])),
    )


@st.composite
def box_pairs(draw: st.DrawFn, name: str) -> dict[str, Any]:
    width, height = draw(st.integers(64, 1000)), draw(st.integers(64, 1000))
    names = draw(st.lists(label_names, min_size=1, max_size=4))
    boxes = []
    for _ in range(draw(st.integers(0, 6))):
        w, h = draw(st.integers(2, width)), draw(st.integers(2, height))
        left, top = draw(st.integers(0, width - w)), draw(st.integers(0, height - h))
        boxes.append(box(draw(st.integers(0, len(names) - 1)), left, top, w, h))
    class_map = {str(index): label for index, label in enumerate(names)}
    return box_pair(name, boxes, class_map, (width, height))  # aspect stays under 20:1


@st.composite
def valid_lines(draw: st.DrawFn) -> dict[str, Any]:
    pairs = []
    for index in range(draw(st.integers(0, 3))):
        kind = image_pairs if draw(st.booleans()) else box_pairs
        pairs.append(draw(kind(f"attr{index}")))
    extra = draw(
        st.dictionaries(
            user_keys.filter(lambda k: not k.startswith("attr")), user_values, max_size=3
        )
    )
    bucket = draw(st.from_regex(r"[a-z0-9.-]{3,20}", fullmatch=True))
    return make_line(*pairs, source_ref=f"s3://{bucket}/k", **extra)


@FAST
@given(valid_lines())
def test_valid_lines_are_stored_unchanged(line: dict[str, Any]) -> None:
    result = check_line(orjson.dumps(line), 1)
    assert isinstance(result, Entry)
    pairs = [key for key in line if f"{key}-metadata" in line]
    expected = {**line, "cl-metadata": {"is_labeled": bool(pairs)}}
    if not pairs:
        expected = {
            **line,
            "warnings": [
                {"code": "WARNING_UNANNOTATED_RECORD", "message": "Record is unannotated."}
            ],
            "cl-metadata": {"is_labeled": False},
        }
    if any(isinstance(line[name], dict) and not line[name]["annotations"] for name in pairs):
        expected.pop("cl-metadata")
        expected["warnings"] = [
            {"code": "WARNING_NO_ANNOTATIONS", "message": "No annotations were found."}
        ]
        expected["cl-metadata"] = {"is_labeled": True}
    assert result.line == orjson.dumps(expected).decode()
    assert not result.has_errors and result.is_labeled == bool(pairs)
    judged_twice(result)


@settings(FAST, max_examples=40)
@given(st.lists(valid_lines(), max_size=4), st.integers(1, 50))
def test_chunking_does_not_change_the_result(lines: list[dict[str, Any]], size: int) -> None:
    data = b"\r\n".join(orjson.dumps(line) for line in lines)
    whole = ChangeReader()
    expected = [(e.line_number, e.line) for e in whole.read([data])]
    split = ChangeReader()
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert [(e.line_number, e.line) for e in split.read(chunks)] == expected
    assert split.dropped == whole.dropped and split.lines_read == whole.lines_read
