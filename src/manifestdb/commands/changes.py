"""Cutting a JSON Lines stream into UpdateDatasetEntries changes of at most 5 MiB.

A change ends at a line boundary; only one change is in memory at a time. Within one change the
service keeps the first line of an image and drops later ones, so the splitter passes on only
the first line of each `source-ref` and counts the others as duplicates (`manifestdb push`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import orjson

from manifestdb.commands.aws import CommandError

MAX_CHANGE_BYTES = 5 * 1024 * 1024
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
    lines_so_far: int = 0  # lines and bytes of this change and every one before it
    bytes_so_far: int = 0


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
        return Change(
            number, data, len(parts), first, last, consumed, self.lines_sent, self.bytes_sent
        )

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


@contextlib.contextmanager
def read_ahead(changes: Iterator[Change]) -> Iterator[Iterator[Change]]:
    """The same changes, cut by a thread one change ahead of the caller: while the caller sends
    a change and waits for it, the next one is read and split (at most two in memory). An error
    of the splitter (LineTooLong, OSError) reaches the caller at the change where it arose. On
    leaving the block early, the thread is stopped at its next change."""
    slot: queue.Queue[tuple[Change | None, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item: tuple[Change | None, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                slot.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for change in changes:
                if not offer((change, None)):
                    return
        except BaseException as error:  # handed to the caller, raised there
            offer((None, error))
            return
        offer((None, None))

    def consume() -> Iterator[Change]:
        while True:
            change, error = slot.get()
            if error is not None:
                raise error
            if change is None:
                return
            yield change

    thread = threading.Thread(target=produce, name="push-read-ahead", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()


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
