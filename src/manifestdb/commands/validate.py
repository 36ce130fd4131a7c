"""`manifestdb validate`: judge a manifest file as CreateDataset would, without a server.

Exit status: 0 when AWS would accept the manifest, 1 when it would fail (a terminal error; with
`--strict` also when any line carries an error or is dropped), 2 when the input cannot be read.
The file is read in 1 MiB chunks and problems are written as they are found, so memory stays
flat on a 1 GB manifest (also with `--format json`, whose document is streamed).

Each problem carries AWS's code and message and, below it, what exactly is wrong (the field, the
value found, the rule). The text report prints the first `SHOWN_PER_CODE` problems of each code
and then a count per code with its first line numbers (`--all` prints every problem); the JSON
report lists every problem. Both warn when the manifest would give a dataset that cannot train.
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

from manifestdb.manifest import LIMIT_PROFILES, ChangeReader, Dropped, Entry, Terminal, details
from manifestdb.manifest.change import dataset_terminal

CHUNK_BYTES = 1 << 20
SHOWN_PER_CODE = 5  # problems of one code the text report prints (without --all)
FIRST_LINES = 5  # line numbers per code in the summary
MIN_IMAGES_PER_LABEL = 2  # one for training and one for testing (DistributeDatasetEntries)
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
    show_all: Annotated[
        bool,
        typer.Option(
            "--all", help=f"Print every problem (the text report prints {SHOWN_PER_CODE} a code)."
        ),
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
        else _TextReport(name, show_all)
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
    why = None
    if terminal is not None:
        why = details.terminal(
            terminal.code,
            lines_read=reader.lines_read,
            bytes_read=reader.bytes_read,
            dropped_count=reader.dropped_count,
            total_entries=reader.entries,
            total_labels=len(reader.label_entries),
            buckets=sorted(reader.buckets),
            limits=reader.limits,
            first_bytes=reader.head,
        )
    report.finish(reader, terminal, why, exit_code=1 if failed else 0)
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


def training_warnings(reader: ChangeReader) -> list[str]:
    """What would keep the dataset this manifest gives from training a model."""
    warnings = []
    if reader.entries and reader.entries_with_errors == reader.entries:
        warnings.append(f"every one of the {reader.entries} entries has an error")
    if reader.entries and not reader.label_entries:
        warnings.append("no entry has a valid label: a dataset without labels cannot train")
    few = sorted(
        label for label, count in reader.label_entries.items() if count < MIN_IMAGES_PER_LABEL
    )
    if few:
        shown = ", ".join(few[:5]) + (f" and {len(few) - 5} more" if len(few) > 5 else "")
        warnings.append(
            f"{len(few)} label(s) with fewer than {MIN_IMAGES_PER_LABEL} images ({shown}): each"
            " label needs an image to train on and one to test with"
        )
    if len(reader.buckets) > 1:
        names = ", ".join(sorted(reader.buckets)[:5])
        warnings.append(
            f"images in {len(reader.buckets)} buckets ({names}): a dataset's images are in one"
        )
    return warnings


class _Report(ABC):
    """Writes problems as they are found, then the summary."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.out = sys.stdout
        self.first_lines: dict[str, list[int]] = {}  # code -> its first line numbers
        self._counts: dict[str, int] = {}  # code -> problems written so far

    def _seen(self, code: str, line_number: int) -> int:
        """Record one problem; how many of its code came before it."""
        lines = self.first_lines.setdefault(code, [])
        if len(lines) < FIRST_LINES and (not lines or lines[-1] != line_number):
            lines.append(line_number)
        self._counts[code] = count = self._counts.get(code, 0) + 1
        return count - 1

    def by_code(self, reader: ChangeReader) -> dict[str, dict[str, Any]]:
        return {
            code: {"count": count, "first_lines": self.first_lines.get(code, [])}
            for code, count in sorted(reader.code_counts.items())
        }

    @abstractmethod
    def entry(self, entry: Entry) -> None: ...

    @abstractmethod
    def dropped(self, dropped: Dropped) -> None: ...

    @abstractmethod
    def finish(
        self, reader: ChangeReader, terminal: Terminal | None, why: str | None, exit_code: int
    ) -> None: ...


class _TextReport(_Report):
    def __init__(self, name: str, show_all: bool) -> None:
        super().__init__(name)
        self.show_all = show_all
        self.hidden = 0

    def _problem(self, line_number: int, code: str, text: str, detail: str | None) -> None:
        if self._seen(code, line_number) >= SHOWN_PER_CODE and not self.show_all:
            self.hidden += 1
            return
        self.out.write(f"{self.name}:{line_number}: {code} {text}\n")
        if detail:
            self.out.write(f"    {detail}\n")

    def entry(self, entry: Entry) -> None:
        for problem in entry.problems:
            where = _where(problem.attribute, problem.level, problem.annotation_index)
            self._problem(entry.line_number, problem.code, problem.message + where, problem.detail)

    def dropped(self, dropped: Dropped) -> None:
        self._problem(dropped.line_number, dropped.code, dropped.message, dropped.detail)

    def finish(
        self, reader: ChangeReader, terminal: Terminal | None, why: str | None, exit_code: int
    ) -> None:
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
        by_code = self.by_code(reader)
        if by_code:
            write("problems by code:\n")
            for code, seen in by_code.items():
                first = ", ".join(str(number) for number in seen["first_lines"])
                more = ", ..." if seen["count"] > len(seen["first_lines"]) else ""
                write(f"  {code}: {seen['count']:,} (lines {first}{more})\n")
            if self.hidden:
                write(f"  ({self.hidden:,} problems not printed above: --all prints every one)\n")
        for warning in training_warnings(reader):
            write(f"warning: {warning}\n")
        outcome = "accepted" if terminal is None else f"failed: {terminal.status_message}"
        write(f"result: {outcome}\n")
        if why:
            write(f"    {why}\n")
        if terminal is None and exit_code:
            write("strict: lines with errors or dropped lines\n")


class _JsonReport(_Report):
    def __init__(self, name: str, limits: str) -> None:
        super().__init__(name)
        self._first = True
        head = orjson.dumps({"file": name, "limits": limits}).decode()
        self.out.write(head[:-1] + ',"problems":[')

    def _item(self, item: dict[str, Any]) -> None:
        self._seen(item["code"], item["line"])
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
                    "detail": problem.detail,
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
                "detail": dropped.detail,
                "excerpt": dropped.excerpt,
            }
        )

    def finish(
        self, reader: ChangeReader, terminal: Terminal | None, why: str | None, exit_code: int
    ) -> None:
        summary = _summary(reader)
        summary["by_code"] = self.by_code(reader)
        tail = {
            "summary": summary,
            "warnings": training_warnings(reader),
            "terminal": None
            if terminal is None
            else {"code": terminal.code, "message": terminal.message, "detail": why},
            "accepted": terminal is None,
            "exit_code": exit_code,
        }
        self.out.write("\n]," + orjson.dumps(tail).decode()[1:] + "\n")


if __name__ == "__main__":
    typer.run(validate_command)
