"""`manifestdb push`: send a manifest of any size to a dataset, in changes of at most 5 MiB.

The input is read line by line and cut at line boundaries into changes of at most
`--max-change-bytes` (UpdateDatasetEntries takes 5,242,880 bytes a call); only one change is in
memory at a time. Each change is sent with UpdateDatasetEntries, in order, and DescribeDataset is
polled (50 ms, growing to 2 s) until it completes. `UPDATE_FAILED` stops the push with the
status message: the changes before it stay applied, nothing after it is sent.

Choices:
- Within one change the service keeps the first line of an image (`source-ref`) and drops later
  ones, while across changes a later line replaces an earlier one. So that the result does not
  depend on where the cuts fall, push sends only the first line of each `source-ref` (as one
  UpdateDatasetEntries or CreateDataset of the whole file would) and counts the others as
  skipped duplicates. Blank lines are not sent.
- A line longer than a change is an error naming it; a regular file is checked before anything
  is sent, standard input when the line is reached.
- A busy dataset (`ResourceInUseException`: another update, a create in progress) is waited for
  and the change sent again, up to `--busy-timeout` seconds; throttling and transient errors
  are retried by botocore's standard retry mode.

Output: progress on standard error (a Rich bar on a terminal, one line per change otherwise),
then a summary on standard output. Exit status: 0 done, 1 a change failed or the service
refused a call, 2 the input or the endpoint could not be used.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Annotated, Any

import orjson
import typer

from manifestdb.commands.aws import (
    CommandError,
    EndpointOption,
    ProfileOption,
    RegionOption,
    rekognition_client,
    reported_errors,
)
from manifestdb.commands.pushview import PushView, error_codes

MAX_CHANGE_BYTES = 5 * 1024 * 1024
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 2.0
ERRORS_SHOWN = 5
BLANK = b" \t\r\n\x0b\x0c"


@dataclass(frozen=True)
class Change:
    """One UpdateDatasetEntries payload and where it came from in the input."""

    number: int
    data: bytes
    lines: int
    first_line: int
    last_line: int
    input_bytes: int


class LineTooLong(CommandError):
    """A line that no change can hold."""

    def __init__(self, line_number: int, max_bytes: int) -> None:
        super().__init__(
            f"line {line_number} is longer than {max_bytes:,} bytes, the most one "
            "UpdateDatasetEntries change can hold",
            1,
        )


class ChangeSplitter:
    """Cuts a JSON Lines stream into changes at line boundaries, first line of an image wins."""

    def __init__(self, stream: IO[bytes], max_bytes: int = MAX_CHANGE_BYTES) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        self.duplicates = 0
        self.lines_sent = 0
        self.bytes_sent = 0
        self._seen: set[str] = set()

    def changes(self) -> Iterator[Change]:
        """The changes, in input order; raises LineTooLong when it reaches such a line."""
        parts: list[bytes] = []
        size = consumed = 0
        first = last = number = 0
        for line_number, raw in _lines(self.stream, self.max_bytes):
            consumed += len(raw)
            if not raw.strip(BLANK) or self._is_duplicate(raw):
                continue
            if parts and size + len(raw) > self.max_bytes:
                number += 1
                yield self._change(number, parts, first, last, consumed - len(raw))
                parts, size, consumed = [], 0, len(raw)
            if not parts:
                first = line_number
            parts.append(raw)
            size += len(raw)
            last = line_number
        if parts:
            yield self._change(number + 1, parts, first, last, consumed)

    def _change(
        self, number: int, parts: list[bytes], first: int, last: int, consumed: int
    ) -> Change:
        data = b"".join(parts)
        if len(data) > self.max_bytes:  # one line that fits only without its line break
            data = data.rstrip(b"\r\n")
        self.lines_sent += len(parts)
        self.bytes_sent += len(data)
        return Change(number, data, len(parts), first, last, consumed)

    def _is_duplicate(self, raw: bytes) -> bool:
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return False  # sent as it is: the service drops it and reports it
        ref = line.get("source-ref") if isinstance(line, dict) else None
        if not isinstance(ref, str):
            return False
        if ref in self._seen:
            self.duplicates += 1
            return True
        self._seen.add(ref)
        return False


def _lines(stream: IO[bytes], max_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(line number, line with its terminator); never reads more than one line past the limit."""
    number = 0
    while raw := stream.readline(max_bytes + 1):
        number += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            raise LineTooLong(number, max_bytes)
        yield number, raw


def check_line_lengths(stream: IO[bytes], max_bytes: int) -> None:
    """Raise LineTooLong for the first line over `max_bytes` (reads the stream to its end)."""
    for _ in _lines(stream, max_bytes):
        pass


def push_command(
    manifest: Annotated[
        str, typer.Argument(metavar="MANIFEST|-", help="Manifest file, or - for stdin.")
    ],
    dataset_arn: Annotated[
        str, typer.Option("--dataset-arn", help="The dataset to update.", show_default=False)
    ],
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    max_change_bytes: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_CHANGE_BYTES, help="Largest change to send (UpdateDatasetEntries' max)."
        ),
    ] = MAX_CHANGE_BYTES,
    busy_timeout: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for a busy dataset before giving up.")
    ] = 600.0,
) -> None:
    """Send a manifest to a dataset in changes under 5 MiB, waiting for each to complete."""
    name = "<stdin>" if manifest == "-" else manifest
    try:
        stream = sys.stdin.buffer if manifest == "-" else open(manifest, "rb")  # noqa: SIM115
    except OSError as error:
        typer.echo(f"manifestdb push: cannot read {name}: {error.strerror or error}", err=True)
        raise typer.Exit(2) from None
    try:
        with reported_errors("push"):
            size = _regular_file_size(stream)
            if size is not None:
                check_line_lengths(stream, max_change_bytes)
                stream.seek(0)
            client = rekognition_client(endpoint_url, profile, region)
            pusher = Pusher(client, dataset_arn, busy_timeout)
            pusher.prepare()
            splitter = ChangeSplitter(stream, max_change_bytes)
            with PushView(name, size) as view:
                try:
                    for change in splitter.changes():
                        pusher.send(change, view)
                        view.change_done(change, splitter.lines_sent, splitter.bytes_sent)
                except LineTooLong as error:
                    raise CommandError(f"{error}\n{pusher.applied_note()}.") from None
            pusher.summary(splitter)
    except OSError as error:
        typer.echo(f"manifestdb push: error reading {name}: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        if manifest != "-":
            stream.close()


def _regular_file_size(stream: IO[bytes]) -> int | None:
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


class Pusher:
    """Sends changes to one dataset and waits for each, through a boto3 client."""

    def __init__(self, client: Any, dataset_arn: str, busy_timeout: float) -> None:
        self.client = client
        self.dataset_arn = dataset_arn
        self.busy_timeout = busy_timeout
        self.applied: Change | None = None

    def describe(self) -> dict[str, Any]:
        return dict(self.client.describe_dataset(DatasetArn=self.dataset_arn)["DatasetDescription"])

    def settle(self, deadline: float | None = None) -> dict[str, Any]:
        """DescribeDataset once the dataset is not *_IN_PROGRESS (polling with backoff)."""
        delay = FIRST_POLL_SECONDS
        while True:
            description = self.describe()
            if not description["Status"].endswith("_IN_PROGRESS"):
                return description
            if deadline is not None and time.monotonic() + delay > deadline:
                raise CommandError(
                    f"the dataset is still {description['Status']} after "
                    f"{self.busy_timeout:g} s (--busy-timeout)"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_SECONDS)

    def prepare(self) -> None:
        """Check that the dataset exists (a busy one is waited for when a change is sent)."""
        self.describe()

    def send(self, change: Change, view: PushView) -> None:
        """Send one change, wait for it, and raise CommandError when it failed."""
        deadline = time.monotonic() + self.busy_timeout
        view.change_started(change)
        while True:
            try:
                self.client.update_dataset_entries(
                    DatasetArn=self.dataset_arn, Changes={"GroundTruth": change.data}
                )
                break
            except self.client.exceptions.ResourceInUseException:
                if time.monotonic() >= deadline:
                    raise
                view.note("the dataset is busy: waiting")
                self.settle(deadline)
        description = self.settle()
        if description["Status"] != "UPDATE_COMPLETE":
            raise CommandError(self._failure(change, description))
        self.applied = change

    def applied_note(self) -> str:
        """Which changes are applied, for a push that stops."""
        if self.applied is None:
            return "no change was applied"
        return f"changes 1-{self.applied.number} (lines 1-{self.applied.last_line}) stay applied"

    def _failure(self, change: Change, description: dict[str, Any]) -> str:
        return (
            f"change {change.number} (lines {change.first_line}-{change.last_line}) "
            f"{description['Status']}: {description.get('StatusMessageCode', '')} "
            f"{description.get('StatusMessage', '')}\n{self.applied_note()}; nothing after line "
            f"{change.last_line} was sent. On a manifestdb server, `manifestdb updates "
            f"{self.dataset_arn}` lists the lines the service dropped."
        )

    def summary(self, splitter: ChangeSplitter) -> None:
        """Print what was sent and what the dataset now holds, with the first error entries."""
        stats = self.describe().get("DatasetStats", {})
        error_entries = stats.get("ErrorEntries", 0)
        changes = self.applied.number if self.applied else 0
        out = sys.stdout.write
        out(
            f"lines sent: {splitter.lines_sent:,} in {changes} change(s), "
            f"{splitter.bytes_sent / 1e6:.1f} MB\n"
        )
        if splitter.duplicates:
            out(
                f"duplicate source-refs skipped: {splitter.duplicates:,} "
                "(the first line of each image wins)\n"
            )
        out(
            f"entries now in the dataset: {stats.get('TotalEntries', 0):,} "
            f"({stats.get('LabeledEntries', 0):,} labeled, {stats.get('TotalLabels', 0):,} "
            "labels)\n"
        )
        out(f"entries with errors: {error_entries:,}\n")
        if error_entries:
            page = self.client.list_dataset_entries(
                DatasetArn=self.dataset_arn, HasErrors=True, MaxResults=ERRORS_SHOWN
            )
            for text in page.get("DatasetEntries", []):
                line = orjson.loads(text)
                codes = ", ".join(f"{code} ({where})" for where, code in error_codes(line))
                out(f"  {line.get('source-ref')}: {codes}\n")
            if error_entries > ERRORS_SHOWN:
                out(f"  ... and {error_entries - ERRORS_SHOWN:,} more (export --has-errors)\n")


if __name__ == "__main__":
    typer.run(push_command)
