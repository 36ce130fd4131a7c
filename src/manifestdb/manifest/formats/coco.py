"""COCO object detection JSON (`images`, `categories`, `annotations`) with image-level labels.

Box convention: `bbox` is `[x, y, width, height]` in pixels, (x, y) the box's top-left corner,
origin at the image's top-left corner: the same four numbers as Ground Truth's `left, top,
width, height`, so boxes convert unchanged.

Image-level labels have no place in standard COCO. manifestdb writes them as an extension on the
image, `"category_ids": [3, 5]`, naming entries of `categories` (tools that do not know the key
ignore it, and annotation counts stay the box counts). Reading takes that key and also
annotations without a `bbox` (or with an empty one), which some tools write for classification.

Reading loads the whole file. An image is named by its `file_name` (a path under `--images`, or
an `s3://` URL); an annotation naming an unknown image or category is an error. Writing numbers
images, categories and annotations from 1, in order; categories follow the class list when one
is given (all of it, used or not; converting from COCO or YOLO passes the input's list), else
order of first use. `width` and `height` come from the image headers when the source lacks them;
`area` is `width * height` of the box, `iscrowd` 0, `segmentation` empty.

Cannot carry: segmentation (polygons, RLE), keypoints, `iscrowd` (crowd boxes become ordinary
boxes), scores, `supercategory`, `info` and `licenses`, the original ids, other image fields
(`license`, `coco_url`, `date_captured`), and the difference between an unlabeled image and one
labeled for boxes with none (an image without annotations reads as unlabeled).
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
    number,
    open_lines,
    open_output,
)

IMAGE_LABELS_KEY = "category_ids"


def read(source: str, *, locator: ImageLocator | None = None) -> Iterator[Image]:
    """The images of a COCO file (`-` for stdin), in the order of its `images`."""
    document = _load(source)
    categories = _categories(document, source)
    images: dict[Any, Image] = {}
    for index, entry in enumerate(_list(document, "images", source)):
        file_name = entry.get("file_name") if isinstance(entry, dict) else None
        if not isinstance(file_name, str) or "id" not in entry:
            raise FormatError(f"{source}: images[{index}] has no id or file_name")
        image = Image(
            file_name, _int_or_none(entry.get("width")), _int_or_none(entry.get("height"))
        )
        image_labels = entry.get(IMAGE_LABELS_KEY) or []
        if not isinstance(image_labels, list):
            raise FormatError(f"{source}: images[{index}].{IMAGE_LABELS_KEY} is not an array")
        for category_id in image_labels:
            image.add_label(_category(categories, category_id, source, f"images[{index}]"))
        images[entry["id"]] = image
    for index, annotation in enumerate(_list(document, "annotations", source)):
        where = f"annotations[{index}]"
        if not isinstance(annotation, dict):
            raise FormatError(f"{source}: {where} is not an object")
        owner = images.get(annotation.get("image_id"))
        if owner is None:
            raise FormatError(f"{source}: {where} names unknown image {annotation.get('image_id')}")
        label = _category(categories, annotation.get("category_id"), source, where)
        bbox = annotation.get("bbox")
        if not bbox:
            owner.add_label(label)
        elif isinstance(bbox, list) and len(bbox) == 4 and all(map(_is_number, bbox)):
            owner.boxes.append(Box(label, *bbox))
        else:
            raise FormatError(f"{source}: {where} has a bbox that is not [x, y, width, height]")
    yield from images.values()


def read_classes(source: str) -> list[str]:
    """The category names of a COCO file, in the order of `categories`."""
    return list(dict.fromkeys(_categories(_load(source), source).values()))


def write(
    images: Iterable[Image],
    target: str,
    *,
    locator: ImageLocator | None = None,
    classes: Sequence[str] | None = None,
) -> Summary:
    """Write one COCO JSON document to `target` (`-` for stdout)."""
    locator = locator or ImageLocator()
    ids = ClassIds(classes)
    summary = Summary()
    image_entries: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image in images:
        locator.fill(image)
        image_id = len(image_entries) + 1
        entry: dict[str, Any] = {
            "id": image_id,
            "file_name": image.source_ref,
            "width": image.width,
            "height": image.height,
        }
        if image.labels:
            entry[IMAGE_LABELS_KEY] = [ids.id_of(label) + 1 for label in image.labels]
        image_entries.append(entry)
        for box in image.boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": ids.id_of(box.label) + 1,
                    "bbox": [
                        number(box.left),
                        number(box.top),
                        number(box.width),
                        number(box.height),
                    ],
                    "area": number(box.width * box.height),
                    "iscrowd": 0,
                    "segmentation": [],
                }
            )
        summary.images += 1
        summary.labels += len(image.labels)
        summary.boxes += len(image.boxes)
    document = {
        "info": {"description": "converted by manifestdb"},
        "images": image_entries,
        "categories": [{"id": i + 1, "name": name} for i, name in enumerate(ids.names)],
        "annotations": annotations,
    }
    with open_output(target) as out:
        out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        out.write("\n")
    return summary


def _load(source: str) -> dict[str, Any]:
    with open_lines(source) as stream:
        raw = stream.read()
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise FormatError(f"{source}: not JSON ({error})") from None
    if not isinstance(document, dict):
        raise FormatError(f"{source}: not a COCO document (a JSON object)")
    return document


def _list(document: dict[str, Any], key: str, source: str) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise FormatError(f"{source}: {key!r} is not an array")
    return value


def _categories(document: dict[str, Any], source: str) -> dict[Any, str]:
    categories: dict[Any, str] = {}
    for index, category in enumerate(_list(document, "categories", source)):
        name = category.get("name") if isinstance(category, dict) else None
        if not isinstance(name, str) or "id" not in category:
            raise FormatError(f"{source}: categories[{index}] has no id or name")
        categories[category["id"]] = name
    return categories


def _category(categories: dict[Any, str], category_id: Any, source: str, where: str) -> str:
    name = categories.get(category_id) if isinstance(category_id, int | str) else None
    if name is None:
        raise FormatError(f"{source}: {where} names unknown category {category_id!r}")
    return name


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
