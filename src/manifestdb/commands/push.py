"""`manifestdb push`: send a manifest of any size to a dataset, in changes of at most 5 MiB.

The input is read line by line and cut at line boundaries into changes of at most
`--max-change-bytes` (UpdateDatasetEntries takes 5,242,880 bytes a call); only one change is in
memory at a time, and the next one is read while the current one applies (`read_ahead`). Each
change is sent with UpdateDatasetEntries, in order, and DescribeDataset is polled until it
completes: the first poll comes at 80% of the time the previous change took, then every 10 ms,
growing by a quarter each time up to 2 s (a change a second behind its predecessor's pace is
seen within ~25% of the overrun). `UPDATE_FAILED` stops the push with the
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
from manifestdb.commands.changes import (
    MAX_CHANGE_BYTES,
    Change,
    ChangeSplitter,
    LineTooLong,
    check_line_lengths,
    read_ahead,
)
from manifestdb.commands.pushview import PushView, error_codes
from manifestdb.states import BUSY, DatasetStatus

FIRST_POLL_SECONDS = 0.01
POLL_GROWTH = 1.25
MAX_POLL_SECONDS = 2.0
EXPECTED_SHARE = 0.8  # of the previous change's time, slept before the first poll
ERRORS_SHOWN = 5


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
            with PushView(name, size) as view, read_ahead(splitter.changes()) as changes:
                try:
                    for change in changes:
                        pusher.send(change, view)
                        view.change_done(change)
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
        self.last_seconds = 0.0  # how long the last change took, sent to seen complete

    def describe(self) -> dict[str, Any]:
        return dict(self.client.describe_dataset(DatasetArn=self.dataset_arn)["DatasetDescription"])

    def settle(self, deadline: float | None = None, expected: float = 0.0) -> dict[str, Any]:
        """DescribeDataset once the dataset is not *_IN_PROGRESS: the first poll after 80% of
        `expected` seconds, then polls backing off from 10 ms to 2 s."""
        if expected > 0:
            time.sleep(expected * EXPECTED_SHARE)
        delay = FIRST_POLL_SECONDS
        while True:
            description = self.describe()
            if description["Status"] not in BUSY:
                return description
            if deadline is not None and time.monotonic() + delay > deadline:
                raise CommandError(
                    f"the dataset is still {description['Status']} after "
                    f"{self.busy_timeout:g} s (--busy-timeout)"
                )
            time.sleep(delay)
            delay = min(delay * POLL_GROWTH, MAX_POLL_SECONDS)

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
                sent = time.monotonic()
                break
            except self.client.exceptions.ResourceInUseException:
                if time.monotonic() >= deadline:
                    raise
                view.note("the dataset is busy: waiting")
                self.settle(deadline)
        description = self.settle(expected=self.last_seconds)
        self.last_seconds = time.monotonic() - sent
        if description["Status"] != DatasetStatus.UPDATE_COMPLETE:
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
