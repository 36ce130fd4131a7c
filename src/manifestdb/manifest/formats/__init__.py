"""Label formats that `manifestdb convert` reads and writes, one module each, by name.

Every module has `read(source, *, locator) -> Iterator[Image]` and `write(images, target, *,
locator, classes) -> Summary`, converting through the common model in `model` (pixels,
`left, top, width, height`, top-left origin); its docstring states its box convention and what
it cannot carry. `images.ImageLocator` finds image files and reads sizes from their headers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from manifestdb.manifest.formats import coco, folders, groundtruth, multilabel, voc, yolo
from manifestdb.manifest.formats import csv as csv_format
from manifestdb.manifest.formats.images import ImageLocator
from manifestdb.manifest.formats.model import Box, FormatError, Image, Summary, with_s3_prefix


class Reader(Protocol):
    def __call__(self, source: str, *, locator: ImageLocator | None = None) -> Iterator[Image]: ...


class Writer(Protocol):
    def __call__(
        self,
        images: Iterable[Image],
        target: str,
        *,
        locator: ImageLocator | None = None,
        classes: Sequence[str] | None = None,
    ) -> Summary: ...


Shape = Literal["file", "folder", "folder-or-s3"]


@dataclass(frozen=True, slots=True)
class Format:
    """One label format: how to read and write it, and what its input and output are."""

    name: str
    read: Reader
    write: Writer
    shape: Shape  # a file (`-` for stdin/stdout), a folder, or a folder or s3:// prefix
    read_classes: Callable[[str], list[str]] | None = None  # the input's own class list


FORMATS: dict[str, Format] = {
    format_.name: format_
    for format_ in (
        Format("groundtruth", groundtruth.read, groundtruth.write, "file"),
        Format("multilabel", multilabel.read, multilabel.write, "file"),
        Format("coco", coco.read, coco.write, "file", coco.read_classes),
        Format("yolo", yolo.read, yolo.write, "folder", yolo.read_classes),
        Format("voc", voc.read, voc.write, "folder"),
        Format("folders", folders.read, folders.write, "folder-or-s3"),
        Format("csv", csv_format.read, csv_format.write, "file"),
    )
}
ALIASES = {"manifest": "groundtruth"}

__all__ = [
    "ALIASES",
    "FORMATS",
    "Box",
    "Format",
    "FormatError",
    "Image",
    "ImageLocator",
    "Reader",
    "Summary",
    "Writer",
    "with_s3_prefix",
]
