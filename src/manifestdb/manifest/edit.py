"""Edits of one stored line, written back in the form Ground Truth and AWS write.

An edit adds or removes image-level labels and, when it names boxes, gives every box of the
line: each in one of the line's bounding-box attributes (a line may carry several, one per
labeling job), or in the first of them (a new `bounding-box` one when the line has none). The
result is a plain line for an UpdateDatasetEntries change: the service's keys (`errors`,
`warnings`, `cl-metadata`, `cl-errors`, at every level the service writes them) are gone, so the
line judged again carries only its new problems.

Forms written (AWS's "Custom Labels manifest files" and SageMaker Ground Truth's output):
- an image-level label: `"<attr>": 1` with `"<attr>-metadata": {"class-name", "confidence": 1,
  "type": "groundtruth/image-classification", "human-annotated": "yes", "creation-date",
  "job-name"}`, under a new attribute name `label-<n>` that no key of the line uses;
- boxes: `{"image_size": [{"width", "height", "depth"}], "annotations": [{"class_id", "left",
  "top", "width", "height"}]}` in pixels (left and top of the box's top-left corner, integers),
  with metadata `objects` (one per box, at the box's position), `class-map` (`{"<id>": label}`
  of the labels the boxes use; a label keeps the id it had in that attribute), the
  object-detection type, `human-annotated`, `creation-date` and `job-name`. A box attribute
  whose boxes are those stored (same labels, same pixels once rounded, same order) is left as it
  is; in one that changed, a box that is a stored one keeps its annotation and its
  `objects` entry (its confidence), a new or moved box gets `{"confidence": 1}`. Deleting every
  box of an attribute removes the pair.
"""

from __future__ import annotations

import copy
import datetime
import math
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


class EditRefused(ValueError):
    """An edit that names what the line does not have (the message says field, value, rule)."""


@dataclass(frozen=True)
class Box:
    """A box in pixels of the upright image: its label, top-left corner, width and height, and
    the bounding-box attribute it belongs to (None: the line's first)."""

    label: str
    left: int
    top: int
    width: int
    height: int
    attribute: str | None = None


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


def box_attributes(line: dict[str, Any]) -> list[str]:
    """The names of the line's bounding-box attributes, in key order."""
    return [
        name
        for name in _pairs(line)
        if line[name + METADATA].get("type") == codes.TYPE_OBJECT_DETECTION
        and type(line[name]) is dict
    ]


def _set_boxes(
    line: dict[str, Any], boxes: tuple[Box, ...], image_size: ImageSize, date: str
) -> None:
    names = box_attributes(line)
    wanted: dict[str, list[Box]] = {name: [] for name in names}
    for index, box in enumerate(boxes):
        name = box.attribute or (names[0] if names else None)
        if name is None:
            name = _free_name(line, BOX_ATTRIBUTE)
            names.append(name)
            wanted[name] = []
        if name not in wanted:
            have = ", ".join(names) or "none"
            raise EditRefused(
                f"Boxes[{index}].Attribute is {name[:100]!r}: it must name a bounding-box "
                f"attribute of the line (the line has: {have})."
            )
        wanted[name].append(box)
    for name, given in wanted.items():
        if name not in line:
            line[name] = {}
        stored = _stored_boxes(line, name)
        if [box for _, box in stored] == [_plain(box) for box in given]:
            continue  # as stored: the attribute, its metadata and their dates stay as they are
        if not given:
            del line[name]
            line.pop(name + METADATA, None)
            continue
        _write_boxes(line, name, given, stored, image_size, date)


def _stored_boxes(line: dict[str, Any], name: str) -> list[tuple[int, Box]]:
    """(position, box) of each readable annotation of attribute `name`, as the editor shows
    it: labelled by the class-map (`class <id>` for an id it does not name), pixels rounded."""
    annotations = line[name].get("annotations")
    meta = line.get(name + METADATA)
    class_map = meta.get("class-map") if type(meta) is dict else None
    if type(class_map) is not dict:
        class_map = {}
    found = []
    for index, item in enumerate(annotations if type(annotations) is list else []):
        if type(item) is not dict:
            continue
        sides = [_pixel(item.get(side)) for side in ("left", "top", "width", "height")]
        label = class_map.get(str(item.get("class_id")), f"class {item.get('class_id')}")
        pixels = [side for side in sides if side is not None]
        if len(pixels) == len(sides) and type(label) is str:
            found.append((index, Box(label, pixels[0], pixels[1], pixels[2], pixels[3])))
    return found


def _pixel(value: Any) -> int | None:
    """A coordinate rounded as the page rounds it (halves up), None when not a number."""
    if type(value) is int:
        return value
    if type(value) is not float or not math.isfinite(value):
        return None
    return math.floor(value + 0.5)


def _plain(box: Box) -> Box:
    return Box(box.label, box.left, box.top, box.width, box.height)


def _write_boxes(
    line: dict[str, Any],
    name: str,
    given: list[Box],
    stored: list[tuple[int, Box]],
    image_size: ImageSize,
    date: str,
) -> None:
    """Attribute `name` rewritten with the boxes `given`, keeping what stays of the stored."""
    body = line[name]
    if not _has_frame(body):
        width, height, depth = image_size()
        body["image_size"] = [{"width": width, "height": height, "depth": depth}]
    old_meta = _of_type(line.get(name + METADATA), dict, {})
    old_map: dict[str, Any] = _of_type(old_meta.get("class-map"), dict, {})
    old_objects: list[Any] = _of_type(old_meta.get("objects"), list, [])
    old_annotations: list[Any] = _of_type(body.get("annotations"), list, [])
    ids: dict[str, int] = {}
    for key, value in old_map.items():
        if type(value) is str and key.lstrip("-").isdigit():
            ids.setdefault(value, int(key))
    # A new label's id is one that neither the class-map nor a stored box uses.
    used = [*ids.values()] + [
        item["class_id"]
        for item in old_annotations
        if type(item) is dict and type(item.get("class_id")) is int
    ]
    next_id = max(used, default=-1) + 1
    unused = list(stored)
    class_map: dict[str, str] = {}
    annotations, objects = [], []
    for box in given:
        plain = _plain(box)
        match = next((pair for pair in unused if pair[1] == plain), None)
        kept = old_annotations[match[0]] if match is not None else None
        if match is not None and type(kept) is dict and type(kept.get("class_id")) is int:
            unused.remove(match)
            annotations.append(copy.deepcopy(kept))
            class_map[str(kept["class_id"])] = box.label
            held = old_objects[match[0]] if match[0] < len(old_objects) else None
            objects.append(copy.deepcopy(held) if type(held) is dict else {"confidence": 1})
            continue
        if box.label not in ids:
            ids[box.label] = next_id
            next_id += 1
        class_map[str(ids[box.label])] = box.label
        annotations.append(
            {
                "class_id": ids[box.label],
                "left": box.left,
                "top": box.top,
                "width": box.width,
                "height": box.height,
            }
        )
        objects.append({"confidence": 1})
    body["annotations"] = annotations
    meta = dict(old_meta)
    meta.update(
        {
            "objects": objects,
            "class-map": dict(sorted(class_map.items(), key=lambda item: int(item[0]))),
            "type": codes.TYPE_OBJECT_DETECTION,
            "human-annotated": "yes",
            "creation-date": date,
            "job-name": JOB_NAME,
        }
    )
    line[name + METADATA] = meta


def _of_type(value: Any, kind: type, default: Any) -> Any:
    return value if type(value) is kind else default


def _has_frame(body: dict[str, Any]) -> bool:
    sizes = body.get("image_size")
    return (
        type(sizes) is list
        and bool(sizes)
        and type(sizes[0]) is dict
        and all(type(sizes[0].get(key)) is int for key in ("width", "height", "depth"))
    )


def training_boxes(line: dict[str, Any]) -> list[tuple[str, float, float, float, float]]:
    """The line's boxes as a model learns them: (label, left, top, width, height) as ratios of
    the image's width and height (from each attribute's `image_size`). An attribute without a
    readable frame gives none."""
    found = []
    for name in box_attributes(line):
        body = line[name]
        if not _has_frame(body):
            continue
        width, height = body["image_size"][0]["width"], body["image_size"][0]["height"]
        if width <= 0 or height <= 0:
            continue
        for _, box in _stored_boxes(line, name):
            found.append(
                (
                    box.label,
                    box.left / width,
                    box.top / height,
                    box.width / width,
                    box.height / height,
                )
            )
    return found
