"""Edits of one stored line, written back in the form Ground Truth and AWS write.

An edit adds or removes image-level labels and, when it names boxes, replaces the boxes of the
line's first bounding-box attribute (or of a new one). The result is a plain line for an
UpdateDatasetEntries change: the service's keys (`errors`, `warnings`, `cl-metadata`,
`cl-errors`, at every level the service writes them) are gone, so the line judged again carries
only its new problems.

Forms written (AWS's "Custom Labels manifest files" and SageMaker Ground Truth's output):
- an image-level label: `"<attr>": 1` with `"<attr>-metadata": {"class-name", "confidence": 1,
  "type": "groundtruth/image-classification", "human-annotated": "yes", "creation-date",
  "job-name"}`, under a new attribute name `label-<n>` that no key of the line uses;
- boxes: `{"image_size": [{"width", "height", "depth"}], "annotations": [{"class_id", "left",
  "top", "width", "height"}]}` in pixels (left and top of the box's top-left corner, integers),
  with metadata `objects` (one `{"confidence": 1}` per box), `class-map` (`{"<id>": label}` of
  the labels the boxes use; a label keeps the id it had), the object-detection type,
  `human-annotated`, `creation-date` and `job-name`. Deleting every box removes the pair.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from manifestdb.manifest import codes
from manifestdb.manifest.marks import strip_service_keys

JOB_NAME = "manifestdb-console"
METADATA = "-metadata"
SOURCE_REF = "source-ref"
LABEL_ATTRIBUTE = "label"
BOX_ATTRIBUTE = "bounding-box"

# (width, height, depth) of the entry's image, asked only when a new box attribute is needed.
ImageSize = Callable[[], tuple[int, int, int]]


@dataclass(frozen=True)
class Box:
    """A box in pixels of the upright image: its label, top-left corner, width and height."""

    label: str
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class EntryEdit:
    """What to change in one line; `boxes` None leaves the boxes as they are."""

    add_labels: tuple[str, ...] = ()
    remove_labels: tuple[str, ...] = ()
    boxes: tuple[Box, ...] | None = None


def creation_date(now: datetime.datetime | None = None) -> str:
    """An ISO 8601 timestamp as Ground Truth writes it (UTC, microseconds)."""
    moment = now or datetime.datetime.now(datetime.UTC)
    return moment.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def clean_line(line: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored line without the service's keys, at every level they are written."""
    clean = copy.deepcopy(line)
    strip_service_keys(clean)
    for value in clean.values():
        if type(value) is dict:
            strip_service_keys(value)
            annotations = value.get("annotations")
            if type(annotations) is list:
                for box in annotations:
                    if type(box) is dict:
                        strip_service_keys(box)
    return clean


def image_labels(line: dict[str, Any]) -> list[str]:
    """The class names of the line's image-level (classification) attributes, in key order."""
    found = []
    for name in _pairs(line):
        meta = line[name + METADATA]
        if meta.get("type") == codes.TYPE_CLASSIFICATION and type(meta.get("class-name")) is str:
            found.append(meta["class-name"])
    return found


def edited_line(
    line: dict[str, Any], edit: EntryEdit, image_size: ImageSize, now: str | None = None
) -> dict[str, Any]:
    """The line after `edit`, as a new dict (the stored `line` is not changed)."""
    result = clean_line(line)
    date = now or creation_date()
    for label in dict.fromkeys(edit.remove_labels):
        _remove_label(result, label)
    present = set(image_labels(result))
    for label in dict.fromkeys(edit.add_labels):
        if label not in present:
            name = _free_name(result, LABEL_ATTRIBUTE)
            result[name] = 1
            result[name + METADATA] = {
                "class-name": label,
                "confidence": 1,
                "type": codes.TYPE_CLASSIFICATION,
                "human-annotated": "yes",
                "creation-date": date,
                "job-name": JOB_NAME,
            }
            present.add(label)
    if edit.boxes is not None:
        _set_boxes(result, edit.boxes, image_size, date)
    return result


def _pairs(line: dict[str, Any]) -> list[str]:
    """Names of the line's label attributes whose metadata is an object."""
    return [
        key
        for key in line
        if key != SOURCE_REF
        and not key.endswith(METADATA)
        and type(line.get(key + METADATA)) is dict
    ]


def _free_name(line: dict[str, Any], stem: str) -> str:
    """`stem` or `stem-<n>`, the first that neither the line nor its metadata key uses."""
    candidates = [stem] if stem == BOX_ATTRIBUTE else []
    number = 1
    while True:
        for name in candidates:
            if name not in line and name + METADATA not in line:
                return name
        candidates = [f"{stem}-{number}"]
        number += 1


def _remove_label(line: dict[str, Any], label: str) -> None:
    for name in _pairs(line):
        meta = line[name + METADATA]
        kind = meta.get("type")
        if kind == codes.TYPE_CLASSIFICATION and meta.get("class-name") == label:
            del line[name], line[name + METADATA]
        elif kind == codes.TYPE_CLASSIFICATION_MULTILABEL and type(line[name]) is list:
            class_map = meta.get("class-map") if type(meta.get("class-map")) is dict else {}
            kept = [i for i in line[name] if class_map.get(str(i)) != label]
            if not kept:
                del line[name], line[name + METADATA]
            else:
                line[name] = kept


def _box_attribute(line: dict[str, Any]) -> str | None:
    for name in _pairs(line):
        if line[name + METADATA].get("type") == codes.TYPE_OBJECT_DETECTION and (
            type(line[name]) is dict
        ):
            return name
    return None


def _set_boxes(
    line: dict[str, Any], boxes: tuple[Box, ...], image_size: ImageSize, date: str
) -> None:
    name = _box_attribute(line)
    if not boxes:
        if name is not None:
            del line[name], line[name + METADATA]
        return
    if name is None or not _has_frame(line[name]):
        width, height, depth = image_size()
        frame = [{"width": width, "height": height, "depth": depth}]
        if name is None:
            name = _free_name(line, BOX_ATTRIBUTE)
            line[name] = {}
        line[name]["image_size"] = frame
    body, old_meta = line[name], line.get(name + METADATA, {})
    old_map = old_meta.get("class-map") if type(old_meta.get("class-map")) is dict else {}
    ids: dict[str, int] = {}
    for key, value in old_map.items():
        if type(value) is str and key.lstrip("-").isdigit():
            ids.setdefault(value, int(key))
    next_id = max(ids.values(), default=-1) + 1
    class_map: dict[str, str] = {}
    annotations = []
    for box in boxes:
        if box.label not in ids:
            ids[box.label] = next_id
            next_id += 1
        class_map[str(ids[box.label])] = box.label
        annotations.append(
            {
                "class_id": ids[box.label],
                "left": round(box.left),
                "top": round(box.top),
                "width": round(box.width),
                "height": round(box.height),
            }
        )
    body["annotations"] = annotations
    meta = dict(old_meta) if type(old_meta) is dict else {}
    meta.update(
        {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": dict(sorted(class_map.items(), key=lambda item: int(item[0]))),
            "type": codes.TYPE_OBJECT_DETECTION,
            "human-annotated": "yes",
            "creation-date": date,
            "job-name": JOB_NAME,
        }
    )
    line[name + METADATA] = meta


def _has_frame(body: dict[str, Any]) -> bool:
    sizes = body.get("image_size")
    return (
        type(sizes) is list
        and bool(sizes)
        and type(sizes[0]) is dict
        and all(type(sizes[0].get(key)) is int for key in ("width", "height", "depth"))
    )
