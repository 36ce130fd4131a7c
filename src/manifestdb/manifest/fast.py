"""The fast path of `check_line`: recognizes a line with no problem and builds its Entry.

Nearly every line of a real change is clean: a `source-ref` and label attribute pairs of the
usual shapes, nothing wrong. `clean_entry` makes the checks the general path (`line._judge`,
`attributes`, `marks`) would make on such a line, in one pass with as few lookups as it can,
and gives up (returns None) at the first thing it does not handle: any problem at all, an extra
key in a label object, an object-valued or stray extra key, more `objects` than boxes... The
caller then judges the line on the general path, which alone defines the behaviour (checks,
precedence and messages: `codes`). The fast path accepts a line only when the general path
finds no problem in it, and then builds the same Entry (a line without label attributes gets
its WARNING_UNANNOTATED_RECORD); `tests/manifest/test_engine_equivalence.py` holds the two
paths to each other and to recorded results.

How it knows there is nothing to strip without a lookup per service key and object: a label
object (a metadata, a box attribute, a box) whose number of keys is the number of the fields it
was found to hold has no other key, so no service key and no `annotations` array to clean; one
with more keys (user data) is accepted when it holds none of these (`_plain`). Top-level
service keys are stripped first, as on the general path (which does it again, to no effect,
when the line falls back to it).

A line that is not stored (`store=False`) is not written either, and writing it is how a line
nested too deeply is found: in such a line the fast path also turns down every object or array
it does not judge (an array of user data, a further image size, an extra key of a label object
holding one), so that a line it accepts is at most 4 levels deep, surely writable.
"""

from __future__ import annotations

from typing import Any, Final

from orjson import dumps

from manifestdb.manifest import codes
from manifestdb.manifest.codes import MAX_ASPECT, MAX_SIDE, MIN_SIDE
from manifestdb.manifest.marks import strip_service_keys
from manifestdb.manifest.types import Entry, Limits, Problem

_MISSING: Final[Any] = object()
_NUMBERS = (int, float)  # JSON numbers; bool is excluded by the exact type test
_CONTAINERS = (dict, list)  # JSON objects and arrays
_YES_NO = ("yes", "no")
_CLASSIFICATION = codes.TYPE_CLASSIFICATION
_MULTILABEL = codes.TYPE_CLASSIFICATION_MULTILABEL
_BOXES = codes.TYPE_OBJECT_DETECTION
# What a line without label attributes gets (WARNING_UNANNOTATED_RECORD). The dicts below only
# ever go into a parsed line that is serialized and dropped, so they are shared.
_UNANNOTATED = codes.UNANNOTATED_RECORD
_UNANNOTATED_PROBLEM = Problem(_UNANNOTATED.code, _UNANNOTATED.message(), "line", True)
_UNANNOTATED_WARNINGS = [{"code": _UNANNOTATED.code, "message": _UNANNOTATED.message()}]
_LABELED = {"is_labeled": True}
_UNLABELED = {"is_labeled": False}
# The fields of each label object that the fast path judges.
_IMAGE_METADATA_FIELDS = frozenset(
    {"class-name", "confidence", "human-annotated", "creation-date", "job-name", "type"}
)
_BOX_METADATA_FIELDS = frozenset(
    {"objects", "class-map", "human-annotated", "creation-date", "job-name", "type"}
)
_BOX_ATTRIBUTE_FIELDS = frozenset({"image_size", "annotations"})
_IMAGE_SIZE_FIELDS = frozenset({"width", "height", "depth"})
_OBJECT_FIELDS = frozenset({"confidence"})
_BOX_FIELDS = frozenset({"class_id", "left", "top", "width", "height"})
_NOT_PLAIN = frozenset({*codes.SERVICE_KEYS, "annotations"})  # keys the general path changes
# The class-map keys of the usual class ids, made once (and their hashes with them).
_IDS = 256
_ID_TEXT = tuple(str(class_id) for class_id in range(_IDS))


def clean_entry(
    line: dict[str, Any],
    line_number: int,
    source_ref: str,
    bucket: str,
    limits: Limits,
    store: bool = True,
) -> Entry | None:
    """The Entry of a line without problems, or None when the general path must judge it;
    with `store=False`, its `line` is left empty (see the module docstring)."""
    if "cl-metadata" in line or "errors" in line or "warnings" in line or "cl-errors" in line:
        strip_service_keys(line)
    labels: dict[str, int] = {}
    pairs = metadatas = 0
    longest = limits.max_label_name_chars
    companion = ""  # the metadata key of the last attribute: usually the next key
    try:  # a missing metadata field: KeyError
        for key, value in line.items():
            if key == companion or key.endswith("-metadata"):
                # Counted: as many as there are pairs means each is a pair's (none is stray).
                metadatas += 1
                continue
            if key == "source-ref":
                continue
            companion = key + "-metadata"
            meta = line.get(companion, _MISSING)
            if type(meta) is not dict:
                # User data (not an object, nor an array unless the line is written): kept,
                # not judged.
                if (
                    meta is _MISSING
                    and type(value) is not dict
                    and (store or type(value) is not list)
                ):
                    continue
                return None
            pairs += 1
            kind = meta["type"]
            if kind == _BOXES:
                if not _clean_boxes(value, meta, labels, limits, store):
                    return None
                continue
            if kind != _CLASSIFICATION and kind != _MULTILABEL:
                return None
            # An image-level pair (`attributes._judge_image_label`).
            label = meta["class-name"]
            confidence = meta["confidence"]
            if (
                type(value) is not int
                or type(label) is not str
                or not 0 < len(label) <= longest
                or "\x00" in label
                or type(confidence) not in _NUMBERS
                or not 0 <= confidence <= 1
                or not _clean_metadata(meta, _IMAGE_METADATA_FIELDS, store)
            ):
                return None
            labels.setdefault(label, 0)
    except KeyError:
        return None
    if metadatas != pairs:
        return None
    if pairs:
        text = ""
        if store:
            line["cl-metadata"] = _LABELED
            text = dumps(line).decode()
        return Entry(line_number, source_ref, bucket, text, True, False, labels, [])
    # No label attribute, no object or array: WARNING_UNANNOTATED_RECORD only.
    text = ""
    if store:
        line["warnings"] = _UNANNOTATED_WARNINGS
        line["cl-metadata"] = _UNLABELED
        text = dumps(line).decode()
    return Entry(
        line_number, source_ref, bucket, text, False, False, labels, [_UNANNOTATED_PROBLEM]
    )


def _clean_boxes(
    body: Any, meta: dict[str, Any], labels: dict[str, int], limits: Limits, store: bool
) -> bool:
    """A box pair without problems (`attributes._judge_boxes`): add its labels, True; else
    False (and `labels` is to be thrown away)."""
    # A missing field or class id: KeyError; a value that is not a JSON object where one is
    # needed: TypeError (cheaper to catch than to test for, on every box).
    try:
        if len(body) != 2 and not _plain(body, _BOX_ATTRIBUTE_FIELDS, store):
            return False
        sizes = body["image_size"]
        boxes = body["annotations"]
        if type(sizes) is not list or not sizes or type(boxes) is not list:
            return False
        size = sizes[0]
        width = size["width"]
        height = size["height"]
        if (
            type(width) is not int
            or type(height) is not int
            or type(size["depth"]) is not int
            or width < MIN_SIDE
            or height < MIN_SIDE
            or width > MAX_SIDE
            or height > MAX_SIDE
            or width > MAX_ASPECT * height
            or height > MAX_ASPECT * width
        ):
            return False
        count = len(boxes)
        objects = meta["objects"]
        class_map = meta["class-map"]
        if (
            not count  # no boxes: WARNING_NO_ANNOTATIONS
            or count > limits.max_boxes_per_image
            or type(objects) is not list
            or len(objects) != count
            or type(class_map) is not dict
            or not _clean_metadata(meta, _BOX_METADATA_FIELDS, store)
        ):
            return False
        longest = limits.max_label_name_chars
        for label in class_map.values():
            if type(label) is not str or not 0 < len(label) <= longest or "\x00" in label:
                return False
        for item in objects:
            confidence = item["confidence"]
            if type(confidence) not in _NUMBERS or not 0 <= confidence <= 1:
                return False
        for box in boxes:
            if len(box) != 5 and not _plain(box, _BOX_FIELDS, store):
                return False
            class_id = box["class_id"]
            left = box["left"]
            top = box["top"]
            box_width = box["width"]
            box_height = box["height"]
            if (
                type(class_id) is not int
                or type(left) not in _NUMBERS
                or type(top) not in _NUMBERS
                or type(box_width) not in _NUMBERS
                or type(box_height) not in _NUMBERS
                or left < 0
                or top < 0
                or box_width <= 1
                or box_height <= 1
                or left + box_width > width
                or top + box_height > height
            ):
                return False
            label = class_map[_ID_TEXT[class_id] if 0 <= class_id < _IDS else str(class_id)]
            labels[label] = labels.get(label, 0) + 1
        if store:
            return True
        # Not written: no further image size, and no extra key of the size or of an object
        # holding an object or an array (see the module docstring).
        if len(sizes) != 1 or (len(size) != 3 and not _plain(size, _IMAGE_SIZE_FIELDS, store)):
            return False
        for item in objects:
            if len(item) != 1 and not _plain(item, _OBJECT_FIELDS, store):
                return False
        return True
    except (KeyError, TypeError):
        return False


def _clean_metadata(meta: dict[str, Any], fields: frozenset[str], store: bool) -> bool:
    """The metadata fields both kinds of pair judge alike: `human-annotated`, `creation-date`,
    an optional `job-name`, and any other key plain user data. A missing field: KeyError, which
    the callers catch."""
    job = meta.get("job-name", _MISSING)
    return (
        meta["human-annotated"] in _YES_NO
        and type(meta["creation-date"]) is str
        and (job is _MISSING or type(job) is str)
        and (len(meta) == (5 if job is _MISSING else 6) or _plain(meta, fields, store))
    )


def _plain(obj: Any, fields: frozenset[str], store: bool) -> bool:
    """Whether the keys of label object `obj` besides its judged `fields` are plain user data:
    none the general path strips or cleans (a service key; an `annotations` that is not a field,
    whose elements it would clean) and, in a line that is not written, none holding an object or
    an array (see the module docstring)."""
    if type(obj) is not dict:
        return False
    if store:
        return _unmarked(obj) and ("annotations" in fields or "annotations" not in obj)
    for key in obj:
        if key not in fields and (key in _NOT_PLAIN or type(obj[key]) in _CONTAINERS):
            return False
    return True


def _unmarked(obj: dict[str, Any]) -> bool:
    """No service key in a label object (the general path would strip it)."""
    return not ("errors" in obj or "warnings" in obj or "cl-metadata" in obj or "cl-errors" in obj)
