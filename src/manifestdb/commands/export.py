"""`manifestdb export`: write a dataset's entries as a manifest, COCO, YOLO or Pascal VOC.

Entries are read page by page with ListDatasetEntries (boto3's paginator, 100 a page) and
written as they arrive, filtered on the server by the options that mirror the API's filters
(`--label` is ContainsLabels, an entry matching any of them; `--labeled/--unlabeled`,
`--has-errors/--no-errors`, `--source-ref-contains`; filters combine with AND).

`manifest` (the default) writes each entry exactly as ListDatasetEntries returns it, one per line
(standard output unless `-o`). That file can be pushed back unchanged (`manifestdb push`, or
UpdateDatasetEntries): the service drops the keys it computes (`cl-metadata`, and `errors` and
`warnings` wherever they are) and computes them again, so a round trip gives identical entries.
The keys are kept by default so that the export is the dataset as the service shows it, errors
included; `--strip-service-keys` removes them (for tools that expect a pure Ground Truth file).

`coco` (a file, or standard output), `yolo` and `voc` (a folder, `-o` required) are written by
the `manifest.formats` modules, whose docstrings state the box conventions and what each cannot
carry. Their class list is the dataset's labels by name (ListDatasetLabels), so class ids are the
same in every export of the dataset. Boxes are exported as stored, the ones the service marked
invalid too; an entry a format cannot read (such as a label attribute of an unsupported type) is
skipped with a warning. Image sizes that an entry lacks (image-level labels only: COCO and VOC
need them) are read from the image headers: from `--images DIR` (a local copy of the images,
`--s3-prefix` naming the S3 location it mirrors), else from S3 itself.

Exit status: 0 done, 1 the service refused a call or the output could not be written, 2 usage.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from manifestdb.commands.aws import (
    CommandError,
    EndpointOption,
    ProfileOption,
    RegionOption,
    history_client,
    rekognition_client,
    reported_errors,
    s3_client,
)
from manifestdb.manifest.marks import strip_service_keys

if TYPE_CHECKING:
    from manifestdb.manifest.formats import ImageLocator

PAGE_SIZE = 100


class ExportFormat(str, Enum):
    """What export writes."""

    manifest = "manifest"
    coco = "coco"
    yolo = "yolo"
    voc = "voc"


FOLDER_FORMATS = (ExportFormat.yolo, ExportFormat.voc)


def export_command(
    dataset_arn: Annotated[str, typer.Argument(help="The dataset to export.")],
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            help="File (manifest, coco; default stdout) or folder (yolo, voc) to write.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        ExportFormat, typer.Option("--format", help="Output format.")
    ] = ExportFormat.manifest,
    labels: Annotated[
        list[str] | None,
        typer.Option("--label", help="Only entries with this label (repeat: any of them, 1-10)."),
    ] = None,
    labeled: Annotated[
        bool | None,
        typer.Option(
            "--labeled/--unlabeled",
            help="Only labeled or only unlabeled entries.",
            show_default=False,
        ),
    ] = None,
    has_errors: Annotated[
        bool | None,
        typer.Option(
            "--has-errors/--no-errors",
            help="Only entries with errors, or only entries without.",
            show_default=False,
        ),
    ] = None,
    source_ref_contains: Annotated[
        str | None,
        typer.Option(help="Only entries whose source-ref contains this (case-sensitive)."),
    ] = None,
    strip: Annotated[
        bool,
        typer.Option(
            "--strip-service-keys", help="manifest: drop cl-metadata, errors and warnings."
        ),
    ] = False,
    images: Annotated[
        Path | None,
        typer.Option(help="coco/voc: local copy of the images, to read sizes entries lack."),
    ] = None,
    s3_prefix: Annotated[
        str | None,
        typer.Option(help="The s3:// prefix that --images mirrors."),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option(
            "--version",
            min=0,
            help="The dataset as it was at this version (`manifestdb versions` lists them).",
        ),
    ] = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Write a dataset's entries (filtered like ListDatasetEntries) in a label format."""
    if output_format in FOLDER_FORMATS and output is None:
        raise typer.BadParameter(f"{output_format.value} is written to a folder", param_hint="-o")
    filters = entry_filters(labels, labeled, has_errors, source_ref_contains)
    with reported_errors("export"):
        if version is None:
            entries = Entries(
                rekognition_client(endpoint_url, profile, region), dataset_arn, filters
            )
        else:
            history = history_client(endpoint_url, profile, region)
            entries = EntriesAtVersion(history, dataset_arn, filters, version)
        if output_format is ExportFormat.manifest:
            _write_manifest(entries, output or "-", strip)
        else:
            locator = _locator(images, s3_prefix, profile, region)
            _write_format(entries, output_format.value, output or "-", locator)
        target = output or "standard output"
        if entries.skipped:
            typer.echo(
                f"exported {entries.count - entries.skipped:,} of {entries.count:,} entries to "
                f"{target} ({entries.skipped:,} skipped)",
                err=True,
            )
        else:
            typer.echo(f"exported {entries.count:,} entries to {target}", err=True)


def entry_filters(
    labels: list[str] | None,
    labeled: bool | None,
    has_errors: bool | None,
    source_ref_contains: str | None,
) -> dict[str, Any]:
    """ListDatasetEntries' filters of the command's options (those given)."""
    filters: dict[str, Any] = {}
    if labels:
        filters["ContainsLabels"] = labels
    if labeled is not None:
        filters["Labeled"] = labeled
    if has_errors is not None:
        filters["HasErrors"] = has_errors
    if source_ref_contains is not None:
        filters["SourceRefContains"] = source_ref_contains
    return filters


class Entries:
    """The filtered entries of a dataset, fetched one page at a time."""

    def __init__(self, client: Any, dataset_arn: str, filters: dict[str, Any]) -> None:
        self.client = client
        self.dataset_arn = dataset_arn
        self.filters = filters
        self.count = 0
        self.skipped = 0

    def lines(self) -> Iterator[str]:
        """Each entry as the JSON text ListDatasetEntries returns."""
        paginator = self.client.get_paginator("list_dataset_entries")
        pages = paginator.paginate(
            DatasetArn=self.dataset_arn,
            PaginationConfig={"PageSize": PAGE_SIZE},
            **self.filters,
        )
        for page in pages:
            for text in page.get("DatasetEntries", []):
                self.count += 1
                yield text

    def labels(self) -> list[str]:
        """Every label of the dataset, by name."""
        paginator = self.client.get_paginator("list_dataset_labels")
        return [
            description["LabelName"]
            for page in paginator.paginate(DatasetArn=self.dataset_arn)
            for description in page.get("DatasetLabelDescriptions", [])
        ]


class EntriesAtVersion(Entries):
    """The filtered entries of a dataset as they were at a version (the history operations)."""

    def __init__(self, history: Any, dataset_arn: str, filters: dict[str, Any], version: int):
        super().__init__(history, dataset_arn, filters)
        self.version = version

    def lines(self) -> Iterator[str]:
        for text in self.client.paginate(
            "ListDatasetEntriesAtVersion",
            "DatasetEntries",
            DatasetArn=self.dataset_arn,
            VersionNumber=self.version,
            MaxResults=PAGE_SIZE,
            **self.filters,
        ):
            self.count += 1
            yield text

    def labels(self) -> list[str]:
        return [
            description["LabelName"]
            for description in self.client.paginate(
                "ListDatasetLabelsAtVersion",
                "DatasetLabelDescriptions",
                DatasetArn=self.dataset_arn,
                VersionNumber=self.version,
            )
        ]


def without_service_keys(text: str) -> bytes:
    """The entry with the service's keys removed where the service puts them."""
    line = orjson.loads(text)
    strip_service_keys(line)
    for value in line.values():
        if isinstance(value, dict):
            strip_service_keys(value)
            annotations = value.get("annotations")
            if isinstance(annotations, list):
                for box in annotations:
                    if isinstance(box, dict):
                        strip_service_keys(box)
    return orjson.dumps(line)


def _write_manifest(entries: Entries, target: str, strip: bool) -> None:
    from manifestdb.manifest.formats.model import FormatError, open_output

    try:
        with open_output(target) as out:
            for text in entries.lines():
                out.write((without_service_keys(text).decode() if strip else text) + "\n")
    except (OSError, FormatError) as error:
        raise CommandError(f"cannot write {target}: {error}") from None


def _locator(
    images: Path | None, s3_prefix: str | None, profile: str | None, region: str | None
) -> ImageLocator:
    from manifestdb.manifest.formats import FormatError, ImageLocator

    try:
        return ImageLocator(images, s3_prefix, s3_client(profile, region))
    except FormatError as error:
        raise CommandError(str(error), 2) from None


def _write_format(entries: Entries, name: str, target: str, locator: ImageLocator) -> None:
    from manifestdb.manifest.formats import FORMATS, FormatError, Image
    from manifestdb.manifest.formats.groundtruth import image_of_line

    def converted() -> Iterator[Image]:
        for text in entries.lines():
            line = orjson.loads(text)
            try:
                yield image_of_line(line, str(line.get("source-ref")))
            except FormatError as error:
                entries.skipped += 1
                sys.stderr.write(f"manifestdb export: skipped {error}\n")

    try:
        summary = FORMATS[name].write(
            converted(), target, locator=locator, classes=entries.labels()
        )
    except (OSError, FormatError) as error:
        raise CommandError(f"cannot write {name} to {target}: {error}") from None
    dropped = []
    if summary.dropped_labels:
        dropped.append(f"{summary.dropped_labels:,} image-level labels")
    if summary.dropped_boxes:
        dropped.append(f"{summary.dropped_boxes:,} boxes")
    if dropped:
        sys.stderr.write(
            f"manifestdb export: {name} cannot carry {' and '.join(dropped)}: not written\n"
        )


if __name__ == "__main__":
    typer.run(export_command)
