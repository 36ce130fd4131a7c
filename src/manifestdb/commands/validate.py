"""`manifestdb validate`: judge a manifest file as CreateDataset would, without a server.

Exit status: 0 when AWS would accept the manifest, 1 when it would fail (a terminal error; with
`--strict` also when any line carries an error or is dropped), 2 when the input cannot be read.
The file is read in 1 MiB chunks and every problem is written as soon as it is found, so memory
stays flat on a 1 GB manifest (also with `--format json`, whose document is streamed).
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import nullcontext
from enum import Enum
from typing import IO, Annotated, Any

import orjson
import typer

from manifestdb.manifest import LIMIT_PROFILES, ChangeReader, Dropped, Entry, Terminal
from manifestdb.manifest.change import dataset_terminal

CHUNK_BYTES = 1 << 20
PROGRESS_MIN_BYTES = 8 << 20
STDIN_NAME = "<stdin>"


class LimitsName(str, Enum):
    """The limit profiles a server can run with."""

    aws = "aws"
    relaxed = "relaxed"


class OutputFormat(str, Enum):
    """How the report is written."""

    text = "text"
    json = "json"


def validate_command(
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="Manifest file, or - for stdin.")],
    limits: Annotated[
        LimitsName, typer.Option(help="Limit profile to judge against.")
    ] = LimitsName.aws,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Report as text or one JSON document.")
    ] = OutputFormat.text,
    strict: Annotated[
        bool, typer.Option("--strict", help="Also fail when a line has an error or is dropped.")
    ] = False,
) -> None:
    """Check a Ground Truth manifest as Rekognition Custom Labels would judge it."""
    name = STDIN_NAME if file == "-" else file
    try:
        stream, size = _open(file)
    except OSError as error:
        typer.echo(f"manifestdb validate: cannot read {name}: {error.strerror or error}", err=True)
        raise typer.Exit(2) from error
    report: _Report = (
        _JsonReport(name, limits.value)
        if output_format is OutputFormat.json
        else (_TextReport(name))
    )
    reader = ChangeReader(
        LIMIT_PROFILES[limits.value],
        is_manifest=True,
        keep_dropped=0,
        on_dropped=report.dropped,
        store_lines=False,  # judged, not stored: the normalized lines are never written
    )
    try:
        with stream if file != "-" else nullcontext():  # never close our own stdin
            for entry in reader.read(_chunks(stream, size)):
                if entry.problems:  # most lines have none: skip the call
                    report.entry(entry)
    except OSError as error:
        typer.echo(f"manifestdb validate: error reading {name}: {error}", err=True)
        raise typer.Exit(2) from error
    terminal = reader.terminal() or dataset_terminal(
        total_entries=reader.entries,
        total_labels=len(reader.label_entries),
        bucket_count=len(reader.buckets),
        limits=reader.limits,
    )
    failed = terminal is not None or (
        strict and (reader.entries_with_errors > 0 or reader.dropped_count > 0)
    )
    report.finish(reader, terminal, exit_code=1 if failed else 0)
    raise typer.Exit(1 if failed else 0)


def _open(file: str) -> tuple[IO[bytes], int | None]:
    """The byte stream to read and its size when known."""
    if file == "-":
        return sys.stdin.buffer, None
    stream = open(file, "rb")  # noqa: SIM115 (closed by the caller's `with`)
    try:
        size = os.fstat(stream.fileno()).st_size
    except OSError:
        size = None
    return stream, size


def _chunks(stream: IO[bytes], size: int | None) -> Iterator[bytes]:
    """The file in chunks, with a progress bar on a terminal's stderr for big files."""
    show = size is not None and size > PROGRESS_MIN_BYTES and sys.stderr.isatty()
    progress: Any = nullcontext()
    if show:
        from rich.console import Console
        from rich.progress import Progress

        progress = Progress(console=Console(stderr=True), transient=True)
    with progress:
        task = progress.add_task("validating", total=size) if show else None
        while chunk := stream.read(CHUNK_BYTES):
            if task is not None:
                progress.advance(task, len(chunk))
            yield chunk


def _where(attribute: str | None, level: str, index: int | None) -> str:
    """Which part of the line a problem concerns, for the text report."""
    if attribute is None:
        return ""
    if level == "annotation":
        return f" [{attribute} box {index}]"
    if level == "metadata":
        return f" [{attribute}-metadata]"
    return f" [{attribute}]"


def _labels(reader: ChangeReader) -> list[dict[str, Any]]:
    box_entries, boxes = reader.label_box_entries, reader.label_boxes
    return [
        {
            "name": label,
            "entries": entries,
            "entries_with_boxes": box_entries.get(label, 0),
            "boxes": boxes.get(label, 0),
        }
        for label, entries in sorted(reader.label_entries.items())
    ]


def _summary(reader: ChangeReader) -> dict[str, Any]:
    return {
        "lines": reader.lines_read,
        "bytes": reader.bytes_read,
        "entries": reader.entries,
        "labeled_entries": reader.labeled_entries,
        "entries_with_errors": reader.entries_with_errors,
        "dropped": reader.dropped_count,
        "codes": dict(sorted(reader.code_counts.items())),
        "bucket_count": len(reader.buckets),
        "buckets": sorted(reader.buckets)[:10],
        "labels": _labels(reader),
    }


class _Report(ABC):
    """Writes problems as they are found, then the summary."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.out = sys.stdout

    @abstractmethod
    def entry(self, entry: Entry) -> None: ...

    @abstractmethod
    def dropped(self, dropped: Dropped) -> None: ...

    @abstractmethod
    def finish(self, reader: ChangeReader, terminal: Terminal | None, exit_code: int) -> None: ...


class _TextReport(_Report):
    def entry(self, entry: Entry) -> None:
        for problem in entry.problems:
            where = _where(problem.attribute, problem.level, problem.annotation_index)
            self.out.write(
                f"{self.name}:{entry.line_number}: {problem.code} {problem.message}{where}\n"
            )

    def dropped(self, dropped: Dropped) -> None:
        self.out.write(f"{self.name}:{dropped.line_number}: {dropped.code} {dropped.message}\n")

    def finish(self, reader: ChangeReader, terminal: Terminal | None, exit_code: int) -> None:
        labels = _labels(reader)
        write = self.out.write
        write(
            f"{self.name}: {reader.lines_read} lines, {reader.entries} entries"
            f" ({reader.labeled_entries} labeled, {reader.entries_with_errors} with errors),"
            f" {reader.dropped_count} dropped, {len(reader.buckets)} bucket(s)\n"
        )
        write(f"labels: {len(labels)}\n")
        for label in labels:
            write(
                f"  {label['name']}: {label['entries']} entries,"
                f" {label['entries_with_boxes']} with boxes, {label['boxes']} boxes\n"
            )
        outcome = "accepted" if terminal is None else f"failed: {terminal.status_message}"
        write(f"result: {outcome}\n")
        if terminal is None and exit_code:
            write("strict: lines with errors or dropped lines\n")


class _JsonReport(_Report):
    def __init__(self, name: str, limits: str) -> None:
        super().__init__(name)
        self._first = True
        head = orjson.dumps({"file": name, "limits": limits}).decode()
        self.out.write(head[:-1] + ',"problems":[')

    def _item(self, item: dict[str, Any]) -> None:
        self.out.write(("\n" if self._first else ",\n") + orjson.dumps(item).decode())
        self._first = False

    def entry(self, entry: Entry) -> None:
        for problem in entry.problems:
            self._item(
                {
                    "line": entry.line_number,
                    "kind": "warning" if problem.warning else "error",
                    "code": problem.code,
                    "message": problem.message,
                    "level": problem.level,
                    "attribute": problem.attribute,
                    "annotation_index": problem.annotation_index,
                }
            )

    def dropped(self, dropped: Dropped) -> None:
        self._item(
            {
                "line": dropped.line_number,
                "kind": "dropped",
                "code": dropped.code,
                "message": dropped.message,
                "excerpt": dropped.excerpt,
            }
        )

    def finish(self, reader: ChangeReader, terminal: Terminal | None, exit_code: int) -> None:
        tail = {
            "summary": _summary(reader),
            "terminal": None
            if terminal is None
            else {"code": terminal.code, "message": terminal.message},
            "accepted": terminal is None,
            "exit_code": exit_code,
        }
        self.out.write("\n]," + orjson.dumps(tail).decode()[1:] + "\n")


if __name__ == "__main__":
    typer.run(validate_command)
