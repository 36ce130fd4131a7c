"""Builders of manifest lines for the manifest engine's tests (real JSON, no mocks)."""

from __future__ import annotations

from typing import Any

import orjson

from manifestdb.manifest import Dropped, Entry, check_line

SERVICE = ("cl-metadata", "errors", "warnings", "cl-errors")
REF = "s3://bucket/images/a.jpg"


def image_pair(
    name: str = "label", class_name: str = "cat", value: Any = 1, **meta: Any
) -> dict[str, Any]:
    """An image-level label attribute pair; `meta` overrides metadata fields (None removes)."""
    metadata = {
        "class-name": class_name,
        "confidence": 0.9,
        "type": "groundtruth/image-classification",
        "human-annotated": "yes",
        "creation-date": "2021-07-11T03:32:13.456Z",
        "job-name": "labeling-job/test",
    }
    return {name: value, f"{name}-metadata": _override(metadata, meta)}


def box(
    class_id: int = 0, left: float = 10, top: float = 10, width: float = 100, height: float = 80
) -> dict[str, Any]:
    """One element of `annotations`."""
    return {"class_id": class_id, "top": top, "left": left, "width": width, "height": height}


def box_pair(
    name: str = "bounding-box",
    boxes: list[dict[str, Any]] | None = None,
    class_map: dict[str, str] | None = None,
    size: tuple[int, int] = (640, 480),
    **meta: Any,
) -> dict[str, Any]:
    """A bounding-box attribute pair with one confidence per box."""
    boxes = [box()] if boxes is None else boxes
    metadata = {
        "objects": [{"confidence": 1} for _ in boxes],
        "class-map": {"0": "cat"} if class_map is None else class_map,
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": "2019-01-29T13:29:11.798957",
        "job-name": "labeling-job/test",
    }
    body = {
        "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
        "annotations": boxes,
    }
    return {name: body, f"{name}-metadata": _override(metadata, meta)}


def _override(metadata: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        key = key.replace("_", "-")
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    return metadata


def make_line(*pairs: dict[str, Any], source_ref: str = REF, **extra: Any) -> dict[str, Any]:
    """A line: source-ref, then the pairs in order, then extra keys."""
    line: dict[str, Any] = {"source-ref": source_ref}
    for pair in pairs:
        line.update(pair)
    line.update(extra)
    return line


def raw(line: dict[str, Any]) -> bytes:
    return orjson.dumps(line)


def entry_of(line: dict[str, Any] | bytes | str, line_number: int = 1) -> Entry:
    """check_line on a line that must be stored."""
    result = check_line(raw(line) if isinstance(line, dict) else line, line_number)
    assert isinstance(result, Entry), result
    return result


def dropped_of(line: dict[str, Any] | bytes | str, line_number: int = 1) -> Dropped:
    result = check_line(raw(line) if isinstance(line, dict) else line, line_number)
    assert isinstance(result, Dropped), result
    return result


def stored(entry: Entry) -> dict[str, Any]:
    value = orjson.loads(entry.line)
    assert isinstance(value, dict)
    return value


def without_service_keys(line: dict[str, Any]) -> dict[str, Any]:
    """The line with service keys removed at every level the engine writes them."""
    clean = {key: value for key, value in line.items() if key not in SERVICE}
    for key, value in clean.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in SERVICE}
            annotations = value.get("annotations")
            if isinstance(annotations, list):
                value["annotations"] = [
                    {k: v for k, v in item.items() if k not in SERVICE}
                    if isinstance(item, dict)
                    else item
                    for item in annotations
                ]
            clean[key] = value
    return clean


def at(line: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    """The object at `path` inside a stored line."""
    target: Any = line
    for step in path:
        target = target[step]
    assert isinstance(target, dict)
    return target
