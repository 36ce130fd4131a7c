"""Pascal VOC XML: one `<annotation>` file per image, with its `<size>` and `<object>` boxes.

Box convention: `<bndbox>` holds `xmin ymin xmax ymax` in pixels, the box's top-left and
bottom-right corners, origin at the image's top-left corner: `left = xmin`, `width = xmax -
xmin` (as CVAT, LabelImg and albumentations read it; the 1-based pixel counting of the original
VOC devkit is not applied). So left 64, top 48, width 128, height 96 is `64 48 192 144`.

Image-level labels have no place in VOC: manifestdb writes them as `<label>name</label>`
children of `<annotation>`, which VOC readers (looking at `<object>` only) ignore.

Reading: the input is a folder of `.xml` files (its `Annotations/` sub-folder when it has one, as
in the devkit's layout) or one `.xml` file, in name order. The image is `<path>` when that is an
`s3://` URL or a relative path, else `<filename>` (under `--images`); its size is `<size>`, read
from the image header when missing or 0. A file always makes a labeled image, objects or not.
Writing: a folder with `<file stem>.xml` per image (two images with one stem is an error), with
`folder`, `filename`, `path` (the image reference), `size` (from the header when the source lacks
it), `segmented` 0, and per box an `<object>` with pose `Unspecified`, truncated 0, difficult 0.

Cannot carry: `pose`, `truncated`, `difficult`, `occluded`, parts, segmentation, `<source>`,
and the difference between an unlabeled image and one labeled with no objects.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from manifestdb.manifest.formats.images import ImageLocator
from manifestdb.manifest.formats.model import (
    Box,
    FormatError,
    Image,
    Summary,
    is_s3,
    number,
    output_folder,
)

DEVKIT_FOLDER = "Annotations"
DEFAULT_DEPTH = 3


def read(source: str, *, locator: ImageLocator | None = None) -> Iterator[Image]:
    """The images of a folder of VOC files (or of one file)."""
    path = Path(source)
    if path.is_dir():
        folder = path / DEVKIT_FOLDER if (path / DEVKIT_FOLDER).is_dir() else path
        files = sorted(folder.glob("*.xml"))
    elif path.is_file():
        files = [path]
    else:
        raise FormatError(f"{source}: no such file or folder")
    locator = locator or ImageLocator(path if path.is_dir() else path.parent)
    for file in files:
        yield _read_file(file, locator)


def _read_file(file: Path, locator: ImageLocator) -> Image:
    try:
        root = ElementTree.parse(file).getroot()
    except ElementTree.ParseError as error:
        raise FormatError(f"{file}: not XML ({error})") from None
    except OSError as error:
        raise FormatError(f"cannot read {file}: {error.strerror or error}") from None
    if root.tag != "annotation":
        raise FormatError(f"{file}: not a VOC file (no <annotation>)")
    image = Image(_image_ref(root, file), box_annotated=True)
    size = root.find("size")
    if size is not None:
        width, height = _int(size, "width", file), _int(size, "height", file)
        if width and height:
            image.width, image.height = width, height
            image.depth = _int(size, "depth", file) or None
    for label in root.iterfind("label"):
        if label.text and label.text.strip():
            image.add_label(label.text.strip())
    for index, item in enumerate(root.iterfind("object")):
        name, box = item.findtext("name"), item.find("bndbox")
        if not name or not name.strip() or box is None:
            raise FormatError(f"{file}: object {index} has no name or no bndbox")
        xmin, ymin = _float(box, "xmin", file), _float(box, "ymin", file)
        xmax, ymax = _float(box, "xmax", file), _float(box, "ymax", file)
        image.boxes.append(Box(name.strip(), xmin, ymin, number(xmax - xmin), number(ymax - ymin)))
    if image.boxes and image.width is None:
        locator.fill(image)
    return image


def _image_ref(root: ElementTree.Element, file: Path) -> str:
    path = (root.findtext("path") or "").strip()
    if path and (
        is_s3(path) or not (PurePosixPath(path).is_absolute() or Path(path).is_absolute())
    ):
        return path
    filename = (root.findtext("filename") or "").strip()
    if not filename:
        raise FormatError(f"{file}: no <filename> or <path>")
    return filename


def _float(parent: ElementTree.Element, tag: str, file: Path) -> float:
    try:
        return float(parent.findtext(tag) or "")
    except ValueError:
        raise FormatError(f"{file}: <{tag}> is not a number") from None


def _int(parent: ElementTree.Element, tag: str, file: Path) -> int:
    text = (parent.findtext(tag) or "0").strip()
    try:
        return int(float(text))
    except ValueError:
        raise FormatError(f"{file}: <{tag}> is not a number") from None


def write(
    images: Iterable[Image],
    target: str,
    *,
    locator: ImageLocator | None = None,
    classes: Sequence[str] | None = None,
) -> Summary:
    """Write one VOC file per image into the folder `target`."""
    folder = output_folder(target, "VOC")
    locator = locator or ImageLocator()
    summary = Summary()
    written: dict[str, str] = {}
    for image in images:
        stem = PurePosixPath(image.source_ref.replace("\\", "/")).stem
        if stem in written:
            raise FormatError(f"images {written[stem]} and {image.source_ref} both need {stem}.xml")
        written[stem] = image.source_ref
        tree = ElementTree.ElementTree(annotation_of(image, locator))
        ElementTree.indent(tree)
        tree.write(folder / f"{stem}.xml", encoding="utf-8", xml_declaration=False)
        summary.images += 1
        summary.labels += len(image.labels)
        summary.boxes += len(image.boxes)
    return summary


def annotation_of(image: Image, locator: ImageLocator) -> ElementTree.Element:
    """The `<annotation>` element for `image` (its size read by `locator` when unknown)."""
    width, height = locator.dimensions(image)
    ref = PurePosixPath(image.source_ref.replace("\\", "/"))
    root = ElementTree.Element("annotation")
    _add(root, "folder", ref.parent.name)
    _add(root, "filename", ref.name)
    _add(root, "path", image.source_ref)
    size = ElementTree.SubElement(root, "size")
    _add(size, "width", width)
    _add(size, "height", height)
    _add(size, "depth", image.depth or DEFAULT_DEPTH)
    _add(root, "segmented", 0)
    for label in image.labels:
        _add(root, "label", label)
    for box in image.boxes:
        item = ElementTree.SubElement(root, "object")
        _add(item, "name", box.label)
        _add(item, "pose", "Unspecified")
        _add(item, "truncated", 0)
        _add(item, "difficult", 0)
        bndbox = ElementTree.SubElement(item, "bndbox")
        _add(bndbox, "xmin", number(box.left))
        _add(bndbox, "ymin", number(box.top))
        _add(bndbox, "xmax", number(box.left + box.width))
        _add(bndbox, "ymax", number(box.top + box.height))
    return root


def _add(parent: ElementTree.Element, tag: str, value: object) -> None:
    ElementTree.SubElement(parent, tag).text = str(value)
