"""Ground Truth manifest (JSON Lines, one image per line): the form Rekognition Custom Labels reads.

Box convention: `left, top, width, height` in pixels, origin at the image's top-left corner, the
image's size in the box attribute's `image_size`.

Reading, line by line: every label attribute pair of a line is read. Image-level pairs (types
`groundtruth/image-classification` and `-multilabel` with a `class-name`) give labels; Ground
Truth's multi-label array form (`"name": [1, 0]` with a `class-map`) is split into one label per
element; box pairs give boxes, each label looked up in its own line's `class-map`. The service's
keys (`cl-metadata`, `errors`, `warnings`, `cl-errors`) are ignored, so ListDatasetEntries output
converts too. An unknown `type`, a malformed pair or a `class_id` missing from its class-map is
an error, with the line number.

Writing, line by line, with stable attribute names: image-level labels as one pair each, named
`label-0`, `label-1`, ... in the image's label order (type `groundtruth/image-classification`,
value the label's class id); boxes as one attribute `bounding-box` (type
`groundtruth/object-detection`) whose `class-map` holds the labels of that line's boxes. Class
ids are the same on every line: positions in the class list when one is given, else in order of
first use. `image_size` is the source's, else read from the image header (`depth` 3 when the
source gives a size without one, as COCO does). An image labeled for boxes with none found gets
an empty `bounding-box`; an image without labels a line with `source-ref` alone. Every
`source-ref` must be an `s3://` URL (`--s3-prefix` makes one of a relative path), and appear once.

Cannot carry: confidences (written as 1), `human-annotated` (written "yes"), `creation-date`
(written as the time of conversion), `job-name`, the user's attribute names, which attribute a
label came from, the service's errors and warnings, and keys that are not label attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from manifestdb.manifest.formats.images import ImageLocator
from manifestdb.manifest.formats.model import (
    Box,
    ClassIds,
    FormatError,
    Image,
    Summary,
    is_s3,
    metadata_date,
    number,
    open_lines,
    open_output,
)

SOURCE_REF = "source-ref"
METADATA = "-metadata"
CLASSIFICATION = "groundtruth/image-classification"
OBJECT_DETECTION = "groundtruth/object-detection"
MULTILABEL = "groundtruth/image-classification-multilabel"
SERVICE_KEYS = frozenset({"cl-metadata", "errors", "warnings", "cl-errors"})
LABEL_ATTRIBUTE = "label"
BOX_ATTRIBUTE = "bounding-box"
DEFAULT_DEPTH = 3  # written when the source format does not say (COCO, YOLO, CSV, folders)
BOX_KEYS = ("left", "top", "width", "height")


def read(source: str, *, locator: ImageLocator | None = None) -> Iterator[Image]:
    """The images of a manifest file (`-` for stdin), one per non-blank line."""
    name = "<stdin>" if source == "-" else source
    with open_lines(source) as stream:
        for line_number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            where = f"{name}:{line_number}"
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise FormatError(f"{where}: not a JSON line") from None
            if not isinstance(line, dict):
                raise FormatError(f"{where}: not a JSON object")
            yield image_of_line(line, where)


def image_of_line(line: dict[str, Any], where: str) -> Image:
    """The image one parsed manifest line describes; `where` prefixes error messages."""
    ref = line.get(SOURCE_REF)
    if not isinstance(ref, str) or not ref:
        raise FormatError(f"{where}: no source-ref")
    image = Image(ref)
    for name, body in line.items():
        meta = line.get(name + METADATA)
        if (
            name == SOURCE_REF
            or name in SERVICE_KEYS
            or name.endswith(METADATA)
            or not isinstance(meta, dict)
        ):
            continue  # not a label attribute: user data, kept by the service, not converted
        kind = meta.get("type")
        if isinstance(body, list):
            for label in split_array(name, body, meta, where):
                image.add_label(label)
        elif kind in (CLASSIFICATION, MULTILABEL):
            class_name = meta.get("class-name")
            if not isinstance(class_name, str):
                raise FormatError(f"{where}: {name}-metadata has no class-name")
            image.add_label(class_name)
        elif kind == OBJECT_DETECTION:
            _read_boxes(image, name, body, meta, where)
        else:
            raise FormatError(f"{where}: label attribute {name!r} has unsupported type {kind!r}")
    return image


def split_array(name: str, body: list[Any], meta: dict[str, Any], where: str) -> list[str]:
    """The labels of one array-form attribute `name`, in the array's order."""
    class_map = meta.get("class-map")
    if not isinstance(class_map, dict):
        raise FormatError(f"{where}: multi-label attribute {name!r} has no class-map")
    labels: list[str] = []
    for class_id in body:
        label = class_map.get(str(class_id)) if isinstance(class_id, int) else None
        if not isinstance(label, str):
            raise FormatError(f"{where}: class id {class_id!r} of {name!r} is not in its class-map")
        labels.append(label)
    return labels


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_boxes(image: Image, name: str, body: Any, meta: dict[str, Any], where: str) -> None:
    sizes = body.get("image_size") if isinstance(body, dict) else None
    annotations = body.get("annotations") if isinstance(body, dict) else None
    if not isinstance(sizes, list) or not sizes or not isinstance(sizes[0], dict):
        raise FormatError(f"{where}: box attribute {name!r} has no image_size")
    if not isinstance(annotations, list):
        raise FormatError(f"{where}: box attribute {name!r} has no annotations array")
    class_map = meta.get("class-map")
    if not isinstance(class_map, dict):
        raise FormatError(f"{where}: {name}-metadata has no class-map")
    size = sizes[0]
    if image.width is None and _is_int(size.get("width")) and _is_int(size.get("height")):
        image.width, image.height = size["width"], size["height"]
        image.depth = size["depth"] if _is_int(size.get("depth")) else None
    image.box_annotated = True
    for index, box in enumerate(annotations):
        fields: list[Any] = [box.get(key) for key in BOX_KEYS] if isinstance(box, dict) else []
        if not fields or not all(_is_number(value) for value in fields):
            raise FormatError(f"{where}: annotation {index} of {name!r} is not a box")
        label = class_map.get(str(box.get("class_id")))
        if not isinstance(label, str):
            raise FormatError(
                f"{where}: class_id {box.get('class_id')!r} of {name!r} is not in its class-map"
            )
        image.boxes.append(Box(label, *fields))


def write(
    images: Iterable[Image],
    target: str,
    *,
    locator: ImageLocator | None = None,
    classes: Sequence[str] | None = None,
    creation_date: str | None = None,
) -> Summary:
    """Write one manifest line per image to `target` (`-` for stdout)."""
    ids = ClassIds(classes)
    date = metadata_date(creation_date)
    seen: set[str] = set()
    summary = Summary()
    with open_output(target) as out:
        for image in images:
            if image.source_ref in seen:
                raise FormatError(f"image {image.source_ref} appears twice")
            seen.add(image.source_ref)
            out.write(orjson.dumps(line_of(image, ids, date, locator)).decode())
            out.write("\n")
            summary.images += 1
            summary.labels += len(image.labels)
            summary.boxes += len(image.boxes)
    return summary


def line_of(
    image: Image, ids: ClassIds, creation_date: str, locator: ImageLocator | None = None
) -> dict[str, Any]:
    """The manifest line for `image` (a box attribute needs its size: read by `locator`)."""
    if not is_s3(image.source_ref):
        raise FormatError(
            f"image {image.source_ref!r} has no s3:// URL: give --s3-prefix to make one"
        )
    line: dict[str, Any] = {SOURCE_REF: image.source_ref}
    common = {"human-annotated": "yes", "creation-date": creation_date}
    for index, label in enumerate(image.labels):
        name = f"{LABEL_ATTRIBUTE}-{index}"
        line[name] = ids.id_of(label)
        line[name + METADATA] = {
            "class-name": label,
            "confidence": 1,
            "type": CLASSIFICATION,
            **common,
        }
    if image.boxes or image.box_annotated:
        (locator or ImageLocator()).fill(image)
        annotations = []
        class_map: dict[str, str] = {}
        for box in image.boxes:
            class_id = ids.id_of(box.label)
            class_map[str(class_id)] = box.label
            annotations.append(_annotation(class_id, box))
        line[BOX_ATTRIBUTE] = {
            "image_size": [
                {
                    "width": image.width,
                    "height": image.height,
                    "depth": image.depth or DEFAULT_DEPTH,
                }
            ],
            "annotations": annotations,
        }
        line[BOX_ATTRIBUTE + METADATA] = {
            "objects": [{"confidence": 1} for _ in annotations],
            "class-map": class_map,
            "type": OBJECT_DETECTION,
            **common,
        }
    return line


def _annotation(class_id: int, box: Box) -> dict[str, Any]:
    return {
        "class_id": class_id,
        "top": number(box.top),
        "left": number(box.left),
        "width": number(box.width),
        "height": number(box.height),
    }
