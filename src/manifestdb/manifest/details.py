"""Why a line has a problem, in words a user can act on: the field, the value found and the rule.

AWS's codes and messages stay exactly as they are (clients match on them); each problem also
gets a `detail` from here. The checks in `attributes` and `line` decide *whether* a problem
exists; these functions, called only once one does, say *what* is wrong, walking the same fields
in the same order. They never run for a clean line.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from manifestdb.manifest import codes
from manifestdb.manifest.codes import MAX_ASPECT, MAX_SIDE, MIN_SIDE
from manifestdb.manifest.types import Limits

_NUMBERS = (int, float)
_SHOWN_CHARS = 60
# The bucket names a source-ref may hold: the S3Bucket shape of Rekognition's model.
BUCKET_RULE = "a bucket name has 3 to 255 characters, each a letter, a digit, '.', '-' or '_'"


def shown(value: Any) -> str:
    """A value as JSON with its kind, short enough for a message: `"1" (a string)`."""
    kind = _kind(value)
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = json.dumps(value, default=repr)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return f"{text} ({kind})"


def quoted(text: str) -> str:
    """A string as JSON, short enough for a message."""
    try:
        shown_text = orjson.dumps(text).decode()
    except orjson.JSONEncodeError:  # a lone surrogate: escaped
        shown_text = json.dumps(text)
    if len(shown_text) <= _SHOWN_CHARS:
        return shown_text
    return shown_text[: _SHOWN_CHARS - 4] + '..."'


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is bool:
        return "a boolean"
    if type(value) in _NUMBERS:
        return "a number"
    if type(value) is str:
        return "a string"
    if type(value) is list:
        return "an array"
    return "an object"


def _field(owner: str, key: str, value: Any, rule: str) -> str:
    found = "is missing" if value is _MISSING else f"is {shown(value)}"
    return f"{owner}.{key} {found}: {rule}"


_MISSING: Any = object()


def _get(obj: dict[str, Any], key: str) -> Any:
    return obj.get(key, _MISSING)


# -- label attributes ---------------------------------------------------------------------------


def _common_metadata(owner: str, meta: dict[str, Any]) -> str | None:
    annotated = _get(meta, "human-annotated")
    if annotated not in ("yes", "no"):
        return _field(owner, "human-annotated", annotated, 'it must be "yes" or "no"')
    created = _get(meta, "creation-date")
    if type(created) is not str:
        return _field(owner, "creation-date", created, "it must be a string (a date and time)")
    if "job-name" in meta and type(meta["job-name"]) is not str:
        return _field(owner, "job-name", meta["job-name"], "when present it must be a string")
    return None


def metadata_format(name: str, meta: Any) -> str:
    """Why `<name>-metadata` is malformed (ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT)."""
    owner = f"{name}-metadata"
    if type(meta) is not dict:
        return f"{owner} is {shown(meta)}: it must be an object"
    kind = _get(meta, "type")
    if type(kind) is not str:
        types = ", ".join(sorted(codes.CLASSIFICATION_TYPES | {codes.TYPE_OBJECT_DETECTION}))
        return _field(owner, "type", kind, f"it must be a string, one of {types}")
    if kind in codes.CLASSIFICATION_TYPES:
        label = _get(meta, "class-name")
        if type(label) is not str:
            return _field(owner, "class-name", label, "it must be a string, the label's name")
        if "\x00" in label:
            return f"{owner}.class-name holds a NUL character, which no label name may hold"
        confidence = _get(meta, "confidence")
        if type(confidence) not in _NUMBERS or not 0 <= confidence <= 1:
            return _field(owner, "confidence", confidence, "it must be a number from 0 to 1")
        return _common_metadata(owner, meta) or f"{owner} is malformed"
    objects, class_map = _get(meta, "objects"), _get(meta, "class-map")
    if type(objects) is not list:
        return _field(owner, "objects", objects, "it must be an array, one object per box")
    if type(class_map) is not dict:
        return _field(
            owner,
            "class-map",
            class_map,
            'it must be an object of class ids to label names, {"0": "cat"}',
        )
    common = _common_metadata(owner, meta)
    if common:
        return common
    for index, item in enumerate(objects):
        if type(item) is not dict:
            return f"{owner}.objects[{index}] is {shown(item)}: it must be an object"
        if "confidence" in item:
            confidence = item["confidence"]
            if type(confidence) not in _NUMBERS or not 0 <= confidence <= 1:
                return _field(
                    f"{owner}.objects[{index}]",
                    "confidence",
                    confidence,
                    "it must be a number from 0 to 1",
                )
    for key, label in class_map.items():
        if type(label) is not str:
            return (
                f"{owner}.class-map[{key!r}] is {shown(label)}: it must be a string, a label name"
            )
        if "\x00" in label:
            return f"{owner}.class-map[{key!r}] holds a NUL character, which no label name may hold"
    return f"{owner} is malformed"


def attribute_format(name: str, body: Any, kind: str) -> str:
    """Why the attribute `name` is malformed (ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT)."""
    if kind in codes.CLASSIFICATION_TYPES:
        rule = "an image-level label attribute is an integer (its value is not used), e.g. 1"
        if type(body) is list:
            rule += "; for several labels on one image, give each its own attribute"
        return f"{name} is {shown(body)}: {rule}"
    if type(body) is not dict:
        return (
            f"{name} is {shown(body)}: a bounding-box attribute is an object with image_size"
            " and annotations"
        )
    sizes = _get(body, "image_size")
    if type(sizes) is not list or not sizes or type(sizes[0]) is not dict:
        return _field(
            name,
            "image_size",
            sizes,
            'it must be an array holding one object, [{"width": 640, "height": 480, "depth": 3}]',
        )
    for key in ("width", "height", "depth"):
        value = _get(sizes[0], key)
        if type(value) is not int:
            return _field(f"{name}.image_size[0]", key, value, "it must be an integer")
    annotations = _get(body, "annotations")
    if type(annotations) is not list:
        return _field(name, "annotations", annotations, "it must be an array of boxes")
    for index, box in enumerate(annotations):
        owner = f"{name}.annotations[{index}]"
        if type(box) is not dict:
            return f"{owner} is {shown(box)}: a box is an object"
        class_id = _get(box, "class_id")
        if type(class_id) is not int:
            return _field(
                owner, "class_id", class_id, "it must be an integer, a key of the class-map"
            )
        for key in ("left", "top", "width", "height"):
            value = _get(box, key)
            if type(value) not in _NUMBERS:
                return _field(owner, key, value, "it must be a number of pixels")
    return f"{name} is malformed"


def unsupported_type(name: str, kind: Any) -> str:
    types = ", ".join(sorted(codes.CLASSIFICATION_TYPES | {codes.TYPE_OBJECT_DETECTION}))
    return f"{name}-metadata.type is {shown(kind)}: Custom Labels reads {types}"


def label_name_length(name: str, label: str, limits: Limits) -> str:
    return (
        f"the label name {quoted(label)} of {name} is {len(label)} characters long: a label"
        f" name has 1 to {limits.max_label_name_chars}"
    )


def image_dimension(name: str, width: int, height: int) -> str:
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        rule = f"each side must be {MIN_SIDE} to {MAX_SIDE} pixels"
    else:
        rule = f"the longer side may be at most {MAX_ASPECT} times the shorter"
    return f"{name}.image_size is {width} x {height} pixels: {rule}"


def too_many_boxes(name: str, boxes: int, limits: Limits) -> str:
    return f"{name} has {boxes} boxes: an image may have at most {limits.max_boxes_per_image}"


def missing_confidence(name: str, boxes: int, confident: int) -> str:
    return (
        f"{name} has {boxes} boxes but only {confident} of the first {boxes} entries of"
        f" {name}-metadata.objects carry a confidence: box i takes objects[i].confidence"
    )


def invalid_box(
    name: str, index: int, box: tuple[Any, Any, Any, Any], frame: tuple[int, int]
) -> str:
    left, top, width, height = box
    owner = f"{name}.annotations[{index}]"
    for key, value in (("left", left), ("top", top), ("width", width), ("height", height)):
        if value < 0:
            return f"{owner}.{key} is {value}: it must not be negative"
    frame_width, frame_height = frame
    if left + width > frame_width:
        return f"{owner}: left + width = {left + width} is past the image's width, {frame_width}"
    return f"{owner}: top + height = {top + height} is past the image's height, {frame_height}"


def box_too_small(name: str, index: int, width: Any, height: Any) -> str:
    return (
        f"{name}.annotations[{index}] is {width} x {height} pixels: both sides must be more"
        " than 1 pixel"
    )


def missing_class_id(name: str, index: int, class_id: int, class_map: dict[str, Any]) -> str:
    keys = ", ".join(sorted(class_map, key=lambda key: (len(key), key))[:10]) or "none"
    return (
        f"{name}.annotations[{index}].class_id is {class_id}, which {name}-metadata.class-map"
        f" does not name (its keys: {keys})"
    )


def no_valid_annotations(name: str, boxes: int) -> str:
    return f"every one of the {boxes} boxes of {name} has an error"


def stray_key(key: str, line: dict[str, Any]) -> str:
    if key.endswith("-metadata"):
        return f"{key} has no attribute {key[: -len('-metadata')]!r} beside it"
    return f"{key} is an object without a {key}-metadata beside it"


def no_valid_label_attributes(pairs: list[str]) -> str:
    names = ", ".join(pairs[:5]) + (", ..." if len(pairs) > 5 else "")
    return f"every label attribute of the line has an error ({names}): see their errors"


# -- dropped lines ------------------------------------------------------------------------------


def source_ref_format(source_ref: str, max_key_chars: int) -> str:
    """Why `source_ref` is not an S3 URL manifestdb stores (ERROR_INVALID_SOURCE_REF_FORMAT)."""
    value = quoted(source_ref)
    if "\x00" in source_ref:
        return f"source-ref {value} holds a NUL character, which no S3 object name holds"
    if not source_ref.startswith("s3://"):
        if source_ref.lower().startswith("s3://"):
            return f"source-ref {value} must start with s3:// in lower case"
        return f"source-ref {value} must start with s3://"
    slash = source_ref.find("/", 5)
    if slash < 0:
        return f"source-ref {value} has a bucket but no object key: s3://bucket/key"
    bucket, key = source_ref[5:slash], source_ref[slash + 1 :]
    if not key:
        return f"source-ref {value} has an empty object key: s3://bucket/key"
    if len(key) > max_key_chars:
        return (
            f"the object key of source-ref {value} is {len(key)} characters long: S3 keys"
            f" have at most {max_key_chars}"
        )
    problem = _bucket_problem(bucket)
    return f"the bucket name {quoted(bucket)} of source-ref {value} is invalid: {problem}"


def _bucket_problem(bucket: str) -> str:
    if len(bucket) < 3:
        return f"it has {len(bucket)} character{'s' if len(bucket) != 1 else ''}; {BUCKET_RULE}"
    if len(bucket) > 255:
        return f"it has {len(bucket)} characters; {BUCKET_RULE}"
    bad = sorted(
        {char for char in bucket if not (char.isascii() and (char.isalnum() or char in "._-"))}
    )
    found = ", ".join(repr(char) for char in bad[:5])
    return f"it holds {found}; {BUCKET_RULE}"


def missing_source_ref(line: dict[str, Any]) -> str:
    keys = ", ".join(list(line)[:8]) + (", ..." if len(line) > 8 else "")
    return f"the line has no source-ref key (its keys: {keys or 'none'})"


def source_ref_not_string(value: Any) -> str:
    return f"source-ref is {shown(value)}: it must be a string, s3://bucket/key"


def line_too_long(chars: int | None, limits: Limits) -> str:
    """`chars` None: a line so long that only its head was kept (over 4 bytes a character)."""
    limit = limits.max_line_chars
    found = f"{chars:,} characters" if chars is not None else f"more than {4 * limit:,} bytes"
    return f"the line has {found}: a line may have at most {limit:,} characters"


def not_json(error: Exception) -> str:
    return f"not JSON: {error}"


def not_utf8(raw: bytes) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        byte = raw[error.start]
        return f"byte {error.start} (0x{byte:02x}) is not UTF-8: save the manifest as UTF-8"
    return "the line holds a lone surrogate (\\ud800-\\udfff), which UTF-8 cannot encode"


def not_object(value: Any) -> str:
    return f"the line is {_kind(value)}, not an object: each line is one JSON object"


def duplicate(source_ref: str) -> str:
    return (
        f"source-ref {quoted(source_ref)} is on an earlier line of this change: a change holds"
        " each image once, and its first line is kept"
    )


# -- terminal errors ----------------------------------------------------------------------------


def terminal(
    code: str,
    *,
    lines_read: int,
    bytes_read: int,
    dropped_count: int,
    total_entries: int,
    total_labels: int,
    buckets: list[str],
    limits: Limits,
    first_bytes: bytes = b"",
) -> str | None:
    """Why a change or a manifest fails whole: the numbers behind its terminal error."""
    if code == codes.MANIFEST_INACCESSIBLE.code:
        if not bytes_read:
            return "the change or manifest is empty (0 bytes)"
        start = first_bytes[:40].decode("utf-8", "replace")
        return (
            f"no line of the {bytes_read:,} bytes read is a JSON object (it starts with"
            f" {quoted(start)}): a manifest is JSON Lines, one object per image"
        )
    if code == codes.MANIFEST_SIZE_TOO_LARGE.code:
        return f"more than {limits.max_manifest_bytes:,} bytes: a manifest has at most that many"
    if code == codes.TOO_MANY_RECORDS_IN_ERROR.code:
        share = dropped_count / lines_read if lines_read else 0
        return (
            f"{dropped_count:,} of {lines_read:,} lines dropped ({share:.0%}): at most"
            f" {limits.max_dropped_fraction:.0%} of a change's lines may be"
        )
    if code == codes.MANIFEST_ROWS_EXCEEDS_MAXIMUM.code:
        if limits.max_manifest_lines is not None and lines_read > limits.max_manifest_lines:
            return (
                f"more than {limits.max_manifest_lines:,} lines: a manifest has at most that many"
            )
        return (
            f"the dataset would hold {total_entries:,} entries: at most"
            f" {limits.max_entries_per_dataset or 0:,}"
        )
    if code == codes.MANIFEST_TOO_MANY_LABELS.code:
        return (
            f"the dataset would have {total_labels:,} labels: at most"
            f" {limits.max_labels_per_dataset or 0:,}"
        )
    if code == codes.IMAGES_IN_MULTIPLE_S3_BUCKETS.code:
        names = ", ".join(buckets[:5]) + (", ..." if len(buckets) > 5 else "")
        return f"images in {len(buckets)} buckets ({names}): a dataset's images are in one bucket"
    return None
