"""Ground Truth's multi-label array form: `"name": [1, 0]` with a `class-map` in its metadata.

Box convention: none; this form has image-level labels only.

Reading splits each array into one image-level label per element, named by the line's
`class-map` (`groundtruth` reads this form too, mixed with ordinary pairs: it is one reader).
Rekognition Custom Labels does not accept the array form (ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT):
convert it to `groundtruth`, which writes one image-level pair per label.

Writing is for tools that expect Ground Truth's multi-label job output: one attribute `labels`
per line, holding the class ids of the image's labels, with `class-map` and `confidence-map` for
those ids, type `groundtruth/image-classification-multilabel`. Class ids are the same on every
line (the class list's order when one is given, else first use). An image without labels gets a
line with `source-ref` alone.

Cannot carry: boxes (dropped, and counted as dropped), the difference between an image labeled
for boxes with none and an unlabeled one, confidences (written as 1), `human-annotated`
(written "yes"), `creation-date` (the time of conversion), `job-name`, attribute names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from manifestdb.manifest.formats import groundtruth
from manifestdb.manifest.formats.groundtruth import MULTILABEL
from manifestdb.manifest.formats.images import ImageLocator
from manifestdb.manifest.formats.model import (
    ClassIds,
    FormatError,
    Image,
    Summary,
    is_s3,
    metadata_date,
    open_output,
)

ATTRIBUTE = "labels"


def read(source: str, *, locator: ImageLocator | None = None) -> Iterator[Image]:
    """The images of a manifest in the array form (or any Ground Truth form), line by line."""
    yield from groundtruth.read(source, locator=locator)


def write(
    images: Iterable[Image],
    target: str,
    *,
    locator: ImageLocator | None = None,
    classes: Sequence[str] | None = None,
    creation_date: str | None = None,
) -> Summary:
    """Write one array-form line per image to `target` (`-` for stdout)."""
    ids = ClassIds(classes)
    date = metadata_date(creation_date)
    summary = Summary()
    with open_output(target) as out:
        for image in images:
            if not is_s3(image.source_ref):
                raise FormatError(
                    f"image {image.source_ref!r} has no s3:// URL: give --s3-prefix to make one"
                )
            line: dict[str, Any] = {"source-ref": image.source_ref}
            if image.labels:
                class_ids = [ids.id_of(label) for label in image.labels]
                line[ATTRIBUTE] = class_ids
                line[ATTRIBUTE + "-metadata"] = {
                    "class-map": {
                        str(i): label for i, label in zip(class_ids, image.labels, strict=True)
                    },
                    "confidence-map": {str(i): 1 for i in class_ids},
                    "type": MULTILABEL,
                    "human-annotated": "yes",
                    "creation-date": date,
                }
            out.write(orjson.dumps(line).decode())
            out.write("\n")
            summary.images += 1
            summary.labels += len(image.labels)
            summary.dropped_boxes += len(image.boxes)
    return summary
