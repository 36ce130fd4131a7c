"""What `manifestdb push` shows while it works: a Rich progress bar or plain lines, on stderr.

A terminal gets a bar (input bytes when the size is known) with the lines and megabytes sent and
the changes applied; anything else (a pipe, a CI log) gets one line per applied change.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO

from manifestdb.commands.changes import Change


def error_codes(line: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, code) of every error written into a ListDatasetEntries line, in line order.

    Errors sit in `errors` arrays at the line's top level, in label attribute and `-metadata`
    objects, and in the elements of a box attribute's `annotations`.
    """
    found: list[tuple[str, str]] = [("line", _code(item)) for item in _errors(line)]
    for key, value in line.items():
        if not isinstance(value, dict):
            continue
        found.extend((key, _code(item)) for item in _errors(value))
        annotations = value.get("annotations")
        if isinstance(annotations, list):
            for index, box in enumerate(annotations):
                if isinstance(box, dict):
                    found.extend((f"{key} box {index}", _code(item)) for item in _errors(box))
    return found


def _errors(target: dict[str, Any]) -> list[Any]:
    items = target.get("errors")
    return items if isinstance(items, list) else []


def _code(item: Any) -> str:
    return str(item.get("code")) if isinstance(item, dict) else str(item)


class PushView:
    """Progress of one push; use as a context manager around the sending."""

    def __init__(self, name: str, total_bytes: int | None, stream: TextIO | None = None) -> None:
        self.name = name
        self.total_bytes = total_bytes
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._progress: Any = None
        self._task: Any = None
        self._started = time.monotonic()
        self._changes = 0

    def __enter__(self) -> PushView:
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[lines]:,} lines"),
                TextColumn("{task.fields[mb]:.1f} MB"),
                TextColumn("{task.fields[changes]} changes"),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
            )
            self._progress.start()
            self._task = self._progress.add_task(
                f"push {self.name}", total=self.total_bytes, lines=0, mb=0.0, changes=0
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def note(self, text: str) -> None:
        """A remark that is not progress (waiting for a busy dataset)."""
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            self.stream.write(f"{text}\n")
            self.stream.flush()

    def change_started(self, change: Change) -> None:
        self._started = time.monotonic()
        if self._progress is not None:
            self._progress.update(self._task, description=f"change {change.number}")

    def change_done(self, change: Change) -> None:
        """A change completed (its `lines_so_far` and `bytes_so_far` count every one so far)."""
        lines_sent, bytes_sent = change.lines_so_far, change.bytes_so_far
        self._changes += 1
        seconds = time.monotonic() - self._started
        if self._progress is not None:
            self._progress.update(
                self._task,
                advance=change.input_bytes,
                lines=lines_sent,
                mb=bytes_sent / 1e6,
                changes=self._changes,
            )
            return
        self.stream.write(
            f"change {change.number}: lines {change.first_line}-{change.last_line} "
            f"({change.lines:,} lines, {len(change.data) / 1e6:.1f} MB) applied in "
            f"{seconds:.1f} s; {lines_sent:,} lines, {bytes_sent / 1e6:.1f} MB sent so far\n"
        )
        self.stream.flush()
