"""Building Ground Truth JSON lines for tests."""

from __future__ import annotations

from typing import Any

import orjson


def image_line(source_ref: str, *labels: str, attribute: str = "label") -> dict[str, Any]:
    """A line with one image-level label attribute pair per label."""
    line: dict[str, Any] = {"source-ref": source_ref}
    for index, label in enumerate(labels):
        name = f"{attribute}{index}" if len(labels) > 1 else attribute
        line[name] = 1
        line[f"{name}-metadata"] = {
            "class-name": label,
            "confidence": 1,
            "type": "groundtruth/image-classification",
            "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00",
            "job-name": "tests",
        }
    return line


def box_line(
    source_ref: str,
    boxes: list[tuple[str, int, int, int, int]],
    size: tuple[int, int] = (640, 480),
    attribute: str = "bounding-box",
) -> dict[str, Any]:
    """A line with one bounding-box attribute: boxes are (label, left, top, width, height)."""
    names = sorted({label for label, *_ in boxes})
    ids = {label: index for index, label in enumerate(names)}
    return {
        "source-ref": source_ref,
        attribute: {
            "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
            "annotations": [
                {"class_id": ids[label], "left": left, "top": top, "width": w, "height": h}
                for label, left, top, w, h in boxes
            ],
        },
        f"{attribute}-metadata": {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": {str(index): label for label, index in ids.items()},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00",
            "job-name": "tests",
        },
    }


def manifest(*lines: dict[str, Any] | str) -> bytes:
    """JSON Lines bytes of the given lines (strings are written as they are)."""
    return b"".join(
        (line.encode() if isinstance(line, str) else orjson.dumps(line)) + b"\n" for line in lines
    )
