"""CSV of `image,label` rows: image-level labels, one row per label.

Box convention: none; this form has image-level labels only.

Reading, row by row: the first column is the image (a path under `--images`, or an `s3://` URL),
the second its label; an empty or missing label makes the image unlabeled, further columns are
ignored. A first row `image,label` (or `source-ref,label`, any case) is a header. An image with
several labels has several rows, which must be adjacent: a repeat further down is an error (sort
the file by its first column), so memory holds no more than the names seen.
Writing: a header `image,label`, then one row per label, and one row with an empty label for an
image without labels.

Cannot carry: boxes (dropped, and counted as dropped), image sizes, and the difference between
an unlabeled image and one labeled for boxes with none.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

from manifestdb.manifest.formats.images import ImageLocator
from manifestdb.manifest.formats.model import FormatError, Image, Summary, open_output, open_text

HEADER = ("image", "label")
HEADER_IMAGE_NAMES = frozenset({"image", "source-ref"})


def read(source: str, *, locator: ImageLocator | None = None) -> Iterator[Image]:
    """The images of an `image,label` CSV file (`-` for stdin), streamed."""
    name = "<stdin>" if source == "-" else source
    seen: set[str] = set()
    current: Image | None = None
    with open_text(source) as text:
        rows = csv.reader(text)
        for row in rows:
            cells = [cell.strip() for cell in row]
            if not cells or not any(cells):
                continue
            if rows.line_num == 1 and _is_header(cells):
                continue
            ref, label = cells[0], cells[1] if len(cells) > 1 else ""
            if not ref:
                raise FormatError(f"{name}:{rows.line_num}: no image in the first column")
            if current is None or ref != current.source_ref:
                if ref in seen:
                    raise FormatError(
                        f"{name}:{rows.line_num}: image {ref} appeared on an earlier row; put the "
                        "rows of one image together (sort the file by its first column)"
                    )
                seen.add(ref)
                if current is not None:
                    yield current
                current = Image(ref)
            if label:
                current.add_label(label)
    if current is not None:
        yield current


def _is_header(cells: list[str]) -> bool:
    return (
        len(cells) >= 2 and cells[0].lower() in HEADER_IMAGE_NAMES and cells[1].lower() == "label"
    )


def write(
    images: Iterable[Image],
    target: str,
    *,
    locator: ImageLocator | None = None,
    classes: Sequence[str] | None = None,
) -> Summary:
    """Write `image,label` rows to `target` (`-` for stdout)."""
    summary = Summary()
    with open_output(target) as out:
        rows = csv.writer(out, lineterminator="\n")
        rows.writerow(HEADER)
        for image in images:
            rows.writerows([image.source_ref, label] for label in image.labels or [""])
            summary.images += 1
            summary.labels += len(image.labels)
            summary.dropped_boxes += len(image.boxes)
    return summary
