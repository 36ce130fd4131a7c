"""The common model every label format converts through: images with labels and boxes.

Box convention: `left, top, width, height` in pixels, origin at the image's top-left corner, x to
the right and y down, the same as Ground Truth's manifest. Values may be fractions; writers print
whole numbers as integers.

An image's `source_ref` is what its format names it by: an `s3://bucket/key` URL, or a path
relative to the dataset's root (the folder of a YOLO or folder-tree dataset, the `--images`
folder otherwise). `--s3-prefix` turns such paths into URLs (`with_s3_prefix`).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, TextIO

S3_SCHEME = "s3://"


class FormatError(Exception):
    """An input that cannot be read or converted, with a message fit for the user."""


@dataclass(slots=True)
class Box:
    """One object: its label and its box in pixels (`left, top, width, height`, top-left origin)."""

    label: str
    left: float
    top: float
    width: float
    height: float


@dataclass(slots=True)
class Image:
    """One image: its reference, its size when known, image-level labels and boxes.

    `box_annotated` marks an image labeled for objects that has none (a Ground Truth box
    attribute with no annotations, an empty YOLO label file, a VOC file without objects): it
    is labeled, unlike an image with no labels at all.
    """

    source_ref: str
    width: int | None = None
    height: int | None = None
    depth: int | None = None
    labels: list[str] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    box_annotated: bool = False

    def add_label(self, label: str) -> None:
        """Add an image-level label once (a label twice on one image means nothing more)."""
        if label not in self.labels:
            self.labels.append(label)

    @property
    def is_labeled(self) -> bool:
        """True when the image carries any label, box, or an empty box annotation."""
        return bool(self.labels or self.boxes or self.box_annotated)


@dataclass(slots=True)
class Summary:
    """What a writer wrote, and what its format could not carry (dropped)."""

    images: int = 0
    labels: int = 0
    boxes: int = 0
    dropped_labels: int = 0
    dropped_boxes: int = 0
    skipped_images: int = 0


class ClassIds:
    """Class ids for labels: positions in a given class list, else in order of first use."""

    def __init__(self, classes: Sequence[str] | None = None) -> None:
        self.names: list[str] = []
        self._ids: dict[str, int] = {}
        self.fixed = classes is not None
        for name in classes or ():
            if name in self._ids:
                raise FormatError(f"class list names {name!r} twice")
            self._ids[name] = len(self.names)
            self.names.append(name)

    def id_of(self, label: str) -> int:
        """The id of `label`; a new id when the list is open, FormatError when it is fixed."""
        found = self._ids.get(label)
        if found is not None:
            return found
        if self.fixed:
            raise FormatError(f"label {label!r} is not in the class list")
        self._ids[label] = len(self.names)
        self.names.append(label)
        return self._ids[label]


def number(value: float) -> int | float:
    """`value` to 6 decimals (no float noise such as 10.200000000000001), an int when whole (JSON
    and XML then show `64`, not `64.0`)."""
    rounded = round(float(value), 6)
    return int(rounded) if rounded.is_integer() else rounded


def is_s3(ref: str) -> bool:
    return ref.startswith(S3_SCHEME)


def split_s3(url: str) -> tuple[str, str]:
    """The bucket and key (or key prefix, possibly empty) of an `s3://bucket/key` URL."""
    bucket, _, key = url[len(S3_SCHEME) :].partition("/")
    if not is_s3(url) or not bucket:
        raise FormatError(f"{url!r} is not an s3://bucket/key URL")
    return bucket, key


def relative_posix(path: str) -> str:
    """A relative image path in `/` form without `./` parts; FormatError for absolute or `..`."""
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise FormatError(f"image path {path!r} is not relative to the dataset folder")
    return pure.as_posix()


def with_s3_prefix(ref: str, prefix: str) -> str:
    """The `source-ref` for `ref`: URLs stay as they are, relative paths go under `prefix`."""
    if is_s3(ref):
        return ref
    return normal_s3_prefix(prefix) + relative_posix(ref)


def normal_s3_prefix(prefix: str) -> str:
    """`prefix` checked to be `s3://bucket/...` and ending with `/`."""
    split_s3(prefix)
    return prefix if prefix.endswith("/") else prefix + "/"


@contextmanager
def open_lines(source: str) -> Iterator[IO[bytes]]:
    """The input as bytes, line by line (`-` is stdin, left open)."""
    if source == "-":
        yield sys.stdin.buffer
        return
    with open(source, "rb") as stream:
        yield stream


def output_folder(target: str, kind: str) -> Path:
    """The local folder `target`, made if missing; FormatError when it is a file."""
    folder = Path(target)
    if folder.exists() and not folder.is_dir():
        raise FormatError(f"{target} is a file; {kind} is written to a folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def metadata_date(given: str | None) -> str:
    """The `creation-date` written into Ground Truth metadata: `given`, or now (UTC)."""
    return given or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@contextmanager
def open_output(target: str) -> Iterator[TextIO]:
    """A text stream for `target` (`-` is stdout); the file appears only when writing succeeds."""
    if target == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(target)
    if path.is_dir():
        raise FormatError(f"{target} is a folder; this format is written to a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def open_text(source: str) -> Iterator[TextIO]:
    """The input as UTF-8 text for the `csv` module (`-` is stdin, left open; a BOM dropped)."""
    with open_lines(source) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            yield text
        except UnicodeDecodeError as error:
            raise FormatError(f"{source}: not UTF-8 text ({error.reason})") from None
        finally:
            if source == "-":
                text.detach()  # closing the wrapper would close stdin
            else:
                text.close()
