"""YOLO detection labels: a dataset folder with `classes.txt`, one `.txt` per image, the images.

Box convention: one line per box, `class x_center y_center width height`, the box's centre and
size divided by the image's width and height (0..1), origin at the image's top-left corner.
Pixels are these values times the image size, which is read from the image header (Pillow).

Layout of the folder: `classes.txt`, one class name per line, the class id being the line's
position from 0; the images listed in `images.txt` (one per line: a path relative to the folder,
or an `s3://` URL) or else every JPEG and PNG under `images/` (in name order); the labels of
`images/sub/a.jpg` in `labels/sub/a.txt`, of any other image in `labels/<file stem>.txt`. An
image without a label file is unlabeled; an empty label file means labeled with no objects. A
line with a sixth value (a confidence) is read as a box; a class id not in `classes.txt` is an
error.

Writing makes `classes.txt` (the class list, or order of first use), `images.txt` (every image,
in order) and a label file per labeled image, numbers with 6 decimals (under 0.005 px off for
images up to 4096 px); reading rounds pixels to 0.01 px, so whole-pixel boxes come back exact.
Two images needing the same label file is an error. Image files are not copied.

Cannot carry: image-level labels (dropped, and counted as dropped), confidences, segments and
polygons, precision beyond 6 decimals.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from manifestdb.manifest.formats.images import ImageLocator, is_image_name
from manifestdb.manifest.formats.model import (
    Box,
    ClassIds,
    FormatError,
    Image,
    Summary,
    is_s3,
    output_folder,
)

CLASSES = "classes.txt"
IMAGE_LIST = "images.txt"
IMAGES = "images"
LABELS = "labels"
DECIMALS = 6
PIXEL_DECIMALS = 2


def label_path(ref: str) -> PurePosixPath:
    """The label file of image `ref`, relative to the dataset folder."""
    path = PurePosixPath(ref.replace("\\", "/"))
    if (
        not is_s3(ref)
        and not path.is_absolute()
        and len(path.parts) > 1
        and path.parts[0] == IMAGES
    ):
        return PurePosixPath(LABELS, *path.parts[1:]).with_suffix(".txt")
    return PurePosixPath(LABELS, path.stem + ".txt")


def read_classes(source: str) -> list[str]:
    """The class names of a YOLO folder, from its `classes.txt`."""
    path = Path(source) / CLASSES
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise FormatError(f"cannot read {path}: {error.strerror or error}") from None
    return [name.strip() for name in text.splitlines() if name.strip()]


def read(source: str, *, locator: ImageLocator | None = None) -> Iterator[Image]:
    """The images of a YOLO folder, with boxes in pixels."""
    folder = Path(source)
    locator = locator or ImageLocator(folder)
    names = read_classes(source)
    for ref in _image_refs(folder):
        image = Image(ref)
        labels = folder / label_path(ref)
        if labels.is_file():
            image.box_annotated = True
            _read_labels(image, labels, names, locator)
        yield image


def _image_refs(folder: Path) -> Iterator[str]:
    listing = folder / IMAGE_LIST
    if listing.is_file():
        for line in listing.read_text(encoding="utf-8-sig").splitlines():
            if line.strip():
                yield line.strip()
        return
    images = folder / IMAGES
    if not images.is_dir():
        raise FormatError(f"{folder} has neither {IMAGE_LIST} nor an {IMAGES}/ folder")
    for path in sorted(images.rglob("*")):
        if path.is_file() and is_image_name(path.name):
            yield path.relative_to(folder).as_posix()


def _read_labels(image: Image, path: Path, names: list[str], locator: ImageLocator) -> None:
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}:{line_number}"
        if len(parts) not in (5, 6):
            raise FormatError(f"{where}: {len(parts)} values; a box has 5 (or 6 with a confidence)")
        try:
            class_id = int(parts[0])
            x_center, y_center, width, height = (float(value) for value in parts[1:5])
        except ValueError:
            raise FormatError(f"{where}: not `class x_center y_center width height`") from None
        if not 0 <= class_id < len(names):
            raise FormatError(
                f"{where}: class {class_id} is not in {CLASSES} ({len(names)} classes)"
            )
        image_width, image_height = locator.dimensions(image)
        image.boxes.append(
            Box(
                names[class_id],
                round((x_center - width / 2) * image_width, PIXEL_DECIMALS),
                round((y_center - height / 2) * image_height, PIXEL_DECIMALS),
                round(width * image_width, PIXEL_DECIMALS),
                round(height * image_height, PIXEL_DECIMALS),
            )
        )


def write(
    images: Iterable[Image],
    target: str,
    *,
    locator: ImageLocator | None = None,
    classes: Sequence[str] | None = None,
) -> Summary:
    """Write a YOLO folder at `target`: classes, image list and label files."""
    folder = output_folder(target, "YOLO")
    locator = locator or ImageLocator()
    ids = ClassIds(classes)
    summary = Summary()
    written: dict[PurePosixPath, str] = {}
    with open(folder / IMAGE_LIST, "w", encoding="utf-8") as listing:
        for image in images:
            listing.write(image.source_ref + "\n")
            summary.images += 1
            summary.dropped_labels += len(image.labels)
            if not (image.boxes or image.box_annotated):
                continue
            relative = label_path(image.source_ref)
            if relative in written:
                raise FormatError(
                    f"images {written[relative]} and {image.source_ref} both need {relative}"
                )
            written[relative] = image.source_ref
            size = locator.dimensions(image) if image.boxes else (0, 0)
            lines = [_yolo_line(ids.id_of(box.label), box, size) for box in image.boxes]
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text("".join(lines), encoding="utf-8")
            summary.boxes += len(image.boxes)
    (folder / CLASSES).write_text("".join(name + "\n" for name in ids.names), encoding="utf-8")
    return summary


def _yolo_line(class_id: int, box: Box, size: tuple[int, int]) -> str:
    width, height = size
    values = (
        (box.left + box.width / 2) / width,
        (box.top + box.height / 2) / height,
        box.width / width,
        box.height / height,
    )
    return " ".join([str(class_id), *(_decimal(value) for value in values)]) + "\n"


def _decimal(value: float) -> str:
    """`value` with 6 decimals at most, trailing zeros dropped (0.2, not 0.200000)."""
    text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
