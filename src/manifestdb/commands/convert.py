"""`manifestdb convert`: convert labels between the Ground Truth manifest and other formats.

Formats (one module each in `manifestdb.manifest.formats`, whose docstrings state the box
convention and what each cannot carry): groundtruth (alias manifest), multilabel, coco, yolo,
voc, folders, csv. Exit status: 0 when converted, 2 when the input cannot be read or converted
(unknown format, unreadable file, malformed content, a label missing from a class list, ...).
Manifest and CSV are streamed line by line, `-` standing for stdin or stdout.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from manifestdb.manifest.formats import Format, Image, Summary

# The formats are imported when a conversion runs, not with the CLI: they take ~40 ms (PIL, XML),
# which every other command would pay at start. Their names, for the help, are FORMATS' keys
# (a test holds the two equal).
FORMAT_NAMES = ("groundtruth", "multilabel", "coco", "yolo", "voc", "folders", "csv")
_NAMES = ", ".join(FORMAT_NAMES)


def convert_command(
    source: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="File, folder or s3:// prefix to read (- for stdin: groundtruth, multilabel, "
            "coco, csv).",
        ),
    ],
    from_format: Annotated[str, typer.Option("--from", metavar="FORMAT", help=f"One of {_NAMES}.")],
    to_format: Annotated[str, typer.Option("--to", metavar="FORMAT", help=f"One of {_NAMES}.")],
    output: Annotated[
        str,
        typer.Option(
            "-o", "--output", help="File, folder or s3:// prefix (folders) to write; - for stdout."
        ),
    ],
    s3_prefix: Annotated[
        str | None,
        typer.Option(
            help="Make image paths source-refs under this prefix: images/a.jpg with "
            "s3://bucket/data/ is s3://bucket/data/images/a.jpg.",
        ),
    ] = None,
    images: Annotated[
        Path | None,
        typer.Option(
            help="Folder that image paths are relative to, for reading image sizes (default: "
            "the input folder, or the input file's folder).",
        ),
    ] = None,
    classes: Annotated[
        Path | None,
        typer.Option(
            help="Class list, one name per line: fixes class ids and order (YOLO, COCO, "
            "manifest); a label not in it is an error. Default: the input's own list (COCO, "
            "YOLO), else order of first use.",
        ),
    ] = None,
) -> None:
    """Convert labels between Ground Truth manifests, COCO, YOLO, VOC, folders and CSV."""
    from manifestdb.manifest.formats import FormatError, ImageLocator
    from manifestdb.manifest.formats.model import normal_s3_prefix

    reader, writer = _format(from_format, "--from"), _format(to_format, "--to")
    _check_paths(source, reader, output, writer)
    try:
        locator = ImageLocator(_root(source, images), s3_prefix)
        class_list = _class_list(classes, source, reader)
        converted: Iterable[Image] = reader.read(source, locator=locator)
        if class_list is not None:
            converted = _known_labels(converted, set(class_list))
        if s3_prefix is not None:
            prefix = normal_s3_prefix(s3_prefix)
            converted = _prefixed(converted, prefix)
        summary = writer.write(converted, output, locator=locator, classes=class_list)
    except FormatError as error:
        _fail(str(error))
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        _fail(f"{where}{error.strerror or error}")
    except _aws_errors() as error:  # credentials, access, no object
        _fail(f"S3: {error}")
    _report(summary, reader, writer, output)


def _format(name: str, option: str) -> Format:
    from manifestdb.manifest.formats import ALIASES, FORMATS

    found = FORMATS.get(ALIASES.get(name.lower(), name.lower()))
    if found is None:
        _fail(f"unknown format {name!r} for {option}; choose one of {_NAMES}")
    return found


def _check_paths(source: str, reader: Format, output: str, writer: Format) -> None:
    from manifestdb.manifest.formats.model import is_s3

    if source == "-" and reader.shape != "file":
        _fail(f"{reader.name} is read from a folder, not from stdin")
    if output == "-" and writer.shape != "file":
        _fail(f"{writer.name} is written to a folder, not to stdout")
    if is_s3(source) and reader.shape != "folder-or-s3":
        _fail(f"{reader.name} is read from a local file or folder, not from S3")
    if is_s3(output) and writer.shape != "folder-or-s3":
        _fail(f"{writer.name} is written to a local file or folder, not to S3")
    if source != "-" and not is_s3(source) and not Path(source).exists():
        _fail(f"cannot read {source}: no such file or folder")
    if source != "-" and not is_s3(source) and reader.shape == "file" and Path(source).is_dir():
        _fail(f"cannot read {source}: a folder; {reader.name} is read from a file")


def _root(source: str, images: Path | None) -> Path | None:
    from manifestdb.manifest.formats.model import is_s3

    if images is not None:
        if not images.is_dir():
            _fail(f"--images {images}: no such folder")
        return images
    if source == "-" or is_s3(source):
        return None
    path = Path(source)
    return path if path.is_dir() else path.parent


def _class_list(classes: Path | None, source: str, reader: Format) -> list[str] | None:
    from manifestdb.manifest.formats.model import ClassIds

    if classes is not None:
        try:
            text = classes.read_text(encoding="utf-8-sig")
        except OSError as error:
            _fail(f"cannot read --classes {classes}: {error.strerror or error}")
        names = [name.strip() for name in text.splitlines() if name.strip()]
        ClassIds(names)  # a name twice is an error
        return names
    if reader.read_classes is not None and source != "-":
        return reader.read_classes(source)
    return None


def _known_labels(images: Iterable[Image], known: set[str]) -> Iterator[Image]:
    from manifestdb.manifest.formats import FormatError

    for image in images:
        for label in [*image.labels, *(box.label for box in image.boxes)]:
            if label not in known:
                raise FormatError(
                    f"image {image.source_ref}: label {label!r} is not in the class list"
                )
        yield image


def _prefixed(images: Iterable[Image], prefix: str) -> Iterator[Image]:
    from manifestdb.manifest.formats import with_s3_prefix

    for image in images:
        image.source_ref = with_s3_prefix(image.source_ref, prefix)
        yield image


def _report(summary: Summary, reader: Format, writer: Format, output: str) -> None:
    typer.echo(
        f"converted {summary.images} images ({summary.labels} image-level labels, "
        f"{summary.boxes} boxes) from {reader.name} to {writer.name}: {output}",
        err=True,
    )
    if summary.dropped_labels:
        typer.echo(
            f"warning: {writer.name} cannot carry image-level labels: "
            f"{summary.dropped_labels} dropped",
            err=True,
        )
    if summary.dropped_boxes:
        typer.echo(
            f"warning: {writer.name} cannot carry boxes: {summary.dropped_boxes} dropped", err=True
        )
    if summary.skipped_images:
        typer.echo(
            f"warning: {writer.name} cannot carry images without labels: "
            f"{summary.skipped_images} skipped",
            err=True,
        )


def _fail(message: str) -> NoReturn:
    typer.echo(f"manifestdb convert: {message}", err=True)
    raise typer.Exit(2)


def _aws_errors() -> tuple[type[Exception], ...]:
    """boto3's errors, imported only when one is being handled (boto3 takes 0.1 s to import,
    and most conversions never touch S3)."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, Boto3Error)
