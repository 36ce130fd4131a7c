"""Judges one label attribute pair (`<name>` and `<name>-metadata`) of a manifest line.

Shapes required where the spec is silent (AWS's documentation marks these fields "required"):
- every metadata: `type` (string), `human-annotated` ("yes" or "no"), `creation-date` (any
  string, its format is not checked: AWS's own examples use several), `job-name` optional but a
  string when present;
- image-level: the attribute value is a JSON integer (not a boolean, not 1.0, not "1");
  metadata `class-name` (a string without NUL) and `confidence` (a number, not a boolean, in
  0..1);
- boxes: the attribute is an object with `image_size`, a non-empty array whose first element
  holds integer `width`, `height` and `depth` (further elements are ignored), and `annotations`,
  an array of objects with an integer `class_id` and numeric `top`, `left`, `width`, `height`
  (integers or fractions); metadata `objects`, an array of objects whose `confidence`, when
  present, is a number in 0..1, and `class-map`, an object of strings without NUL. Any of these
  wrong is a format error of the whole pair, not of one box: no box-level code describes it.
- the multi-label array form (`"<name>": [1, 0]` with a `class-map`) fails the image-level shape:
  ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT (the metadata is not judged then).

Validity: a pair is valid when no error concerns it (at its attribute, its metadata, its boxes
all failing, or an ERROR_INVALID_IMAGE_DIMENSION of its frame). A box is valid when it carries no
error and its pair is valid. Labels count from valid pairs only: an image-level label with 0
boxes, a box label with its number of valid boxes. A box attribute with zero boxes is valid.
Boxes: `left + width == image width` is inside the frame; a box needs width and height both
greater than 1 pixel; an off-frame box is not judged for size. Confidences pair with boxes by
position; a box without one makes ERROR_MISSING_BOUNDING_BOX_CONFIDENCE (once, metadata level).
Every class-map name is checked for length, used by a box or not.
"""

from __future__ import annotations

from typing import Any

from manifestdb.manifest import codes, details
from manifestdb.manifest.codes import MAX_ASPECT, MAX_SIDE, MIN_SIDE
from manifestdb.manifest.marks import JsonObject, Marks
from manifestdb.manifest.types import Limits

_NUMBERS = frozenset({int, float})  # JSON numbers; bool is excluded by the exact type test


def judge_pair(
    name: str, line: JsonObject, marks: Marks, labels: dict[str, int], limits: Limits
) -> bool:
    """Check one pair, mark its problems, add its labels to `labels`; True when it is valid."""
    body = line[name]
    meta = line[name + "-metadata"]
    if type(meta) is not dict or type(meta.get("type")) is not str:
        marks.metadata(
            codes.INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
            name,
            meta,
            details.metadata_format(name, meta),
        )
        return False
    kind = meta["type"]
    if kind in codes.CLASSIFICATION_TYPES:
        return _judge_image_label(name, body, meta, marks, labels, limits)
    if kind == codes.TYPE_OBJECT_DETECTION:
        return _judge_boxes(name, body, meta, marks, labels, limits)
    marks.metadata(
        codes.UNSUPPORTED_USE_CASE_TYPE, name, meta, details.unsupported_type(name, kind)
    )
    return False


def _is_confidence(value: Any) -> bool:
    return type(value) in _NUMBERS and 0 <= value <= 1


def _common_metadata_ok(meta: JsonObject) -> bool:
    return (
        meta.get("human-annotated") in ("yes", "no")
        and type(meta.get("creation-date")) is str
        and ("job-name" not in meta or type(meta["job-name"]) is str)
    )


def _judge_image_label(
    name: str, body: Any, meta: JsonObject, marks: Marks, labels: dict[str, int], limits: Limits
) -> bool:
    if type(body) is not int:
        detail = details.attribute_format(name, body, meta["type"])
        marks.attribute(codes.INVALID_LABEL_ATTRIBUTE_FORMAT, name, body, meta, detail)
        return False
    label = meta.get("class-name")
    if (
        type(label) is not str
        or "\x00" in label
        or not _is_confidence(meta.get("confidence"))
        or not _common_metadata_ok(meta)
    ):
        detail = details.metadata_format(name, meta)
        marks.metadata(codes.INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, name, meta, detail)
        return False
    if not 0 < len(label) <= limits.max_label_name_chars:
        detail = details.label_name_length(name, label, limits)
        marks.attribute(codes.INVALID_LABEL_NAME_LENGTH, name, body, meta, detail)
        return False
    labels.setdefault(label, 0)
    return True


def _frame(body: JsonObject) -> tuple[int, int] | None:
    """The (width, height) of a well-formed `image_size`, else None."""
    sizes = body.get("image_size")
    if type(sizes) is not list or not sizes or type(sizes[0]) is not dict:
        return None
    size = sizes[0]
    width, height = size.get("width"), size.get("height")
    if type(width) is not int or type(height) is not int or type(size.get("depth")) is not int:
        return None
    return width, height


# A well-formed box: left, top, width, height (JSON numbers), class_id, and the annotation.
_Box = tuple[Any, Any, Any, Any, int, JsonObject]


def _read_boxes(annotations: Any) -> list[_Box] | None:
    """The boxes of a well-formed `annotations` array, else None (one lookup per field)."""
    if type(annotations) is not list:
        return None
    boxes: list[_Box] = []
    for box in annotations:
        if type(box) is not dict:
            return None
        left, top = box.get("left"), box.get("top")
        width, height, class_id = box.get("width"), box.get("height"), box.get("class_id")
        if (
            type(class_id) is not int
            or type(left) not in _NUMBERS
            or type(top) not in _NUMBERS
            or type(width) not in _NUMBERS
            or type(height) not in _NUMBERS
        ):
            return None
        boxes.append((left, top, width, height, class_id, box))
    return boxes


def _box_metadata(meta: JsonObject, boxes: int) -> int | None:
    """None when the box metadata is malformed, else how many of the first `boxes` objects
    carry a confidence (a box pairs with the object at its position)."""
    objects, class_map = meta.get("objects"), meta.get("class-map")
    if type(objects) is not list or type(class_map) is not dict or not _common_metadata_ok(meta):
        return None
    confident = 0
    for index, item in enumerate(objects):
        if type(item) is not dict:
            return None
        if "confidence" in item:
            if not _is_confidence(item["confidence"]):
                return None
            if index < boxes:
                confident += 1
    for label in class_map.values():
        if type(label) is not str or "\x00" in label:
            return None
    return confident


def _judge_boxes(
    name: str, body: Any, meta: JsonObject, marks: Marks, labels: dict[str, int], limits: Limits
) -> bool:
    frame = _frame(body) if type(body) is dict else None
    boxes = _read_boxes(body.get("annotations")) if frame is not None else None
    if frame is None or boxes is None:
        detail = details.attribute_format(name, body, meta["type"])
        marks.attribute(codes.INVALID_LABEL_ATTRIBUTE_FORMAT, name, body, meta, detail)
        return False
    confident = _box_metadata(meta, len(boxes))
    if confident is None:
        detail = details.metadata_format(name, meta)
        marks.metadata(codes.INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, name, meta, detail)
        return False
    valid = _pair_content_ok(name, body, meta, frame, len(boxes), confident, marks, limits)
    box_labels = _judge_each_box(name, boxes, meta["class-map"], frame, marks)
    if not boxes:
        marks.line(codes.NO_ANNOTATIONS, name)
    elif not box_labels:
        detail = details.no_valid_annotations(name, len(boxes))
        marks.attribute(codes.NO_VALID_ANNOTATIONS, name, body, meta, detail)
        valid = False
    if valid:
        for label in box_labels:
            labels[label] = labels.get(label, 0) + 1
    return valid


def _pair_content_ok(
    name: str,
    body: JsonObject,
    meta: JsonObject,
    frame: tuple[int, int],
    boxes: int,
    confident: int,
    marks: Marks,
    limits: Limits,
) -> bool:
    """The checks of a well-formed box pair that concern the pair as a whole."""
    valid = True
    width, height = frame
    if (
        width < MIN_SIDE
        or height < MIN_SIDE
        or width > MAX_SIDE
        or height > MAX_SIDE
        or max(width, height) > MAX_ASPECT * min(width, height)
    ):
        detail = details.image_dimension(name, width, height)
        marks.line(codes.INVALID_IMAGE_DIMENSION, name, detail=detail)
        valid = False
    if boxes > limits.max_boxes_per_image:
        detail = details.too_many_boxes(name, boxes, limits)
        marks.attribute(codes.TOO_MANY_BOUNDING_BOXES, name, body, meta, detail)
        valid = False
    longest = limits.max_label_name_chars
    for label in meta["class-map"].values():
        if not 0 < len(label) <= longest:
            detail = details.label_name_length(name, label, limits)
            marks.attribute(codes.INVALID_LABEL_NAME_LENGTH, name, body, meta, detail)
            valid = False
            break
    if confident < boxes:
        detail = details.missing_confidence(name, boxes, confident)
        marks.metadata(codes.MISSING_BOUNDING_BOX_CONFIDENCE, name, meta, detail)
        valid = False
    return valid


def _judge_each_box(
    name: str,
    boxes: list[_Box],
    class_map: dict[str, str],
    frame: tuple[int, int],
    marks: Marks,
) -> list[str]:
    """Mark each bad box; return the labels of the boxes without errors, in order."""
    frame_width, frame_height = frame
    box_labels: list[str] = []
    for index, (left, top, width, height, class_id, box) in enumerate(boxes):
        ok = True
        if (
            left < 0
            or top < 0
            or width < 0
            or height < 0
            or left + width > frame_width
            or top + height > frame_height
        ):
            detail = details.invalid_box(name, index, (left, top, width, height), frame)
            marks.annotation(codes.INVALID_BOUNDING_BOX, name, box, index, detail)
            ok = False
        elif width <= 1 or height <= 1:
            detail = details.box_too_small(name, index, width, height)
            marks.annotation(codes.BOUNDING_BOX_TOO_SMALL, name, box, index, detail)
            ok = False
        label = class_map.get(str(class_id))
        if label is None:
            detail = details.missing_class_id(name, index, class_id, class_map)
            marks.annotation(codes.MISSING_CLASS_MAP_ID, name, box, index, detail)
        elif ok:
            box_labels.append(label)
    return box_labels
