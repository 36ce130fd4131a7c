"""Judging a change's lines beside the job that stores them: the manifest engine in a helper
process, so that a job uses two cores.

A job spends a sixth of its time in the engine (Python, one line at a time) and most of the rest
in the database. In one process they take turns under the GIL; a thread would not help (the
database thread gives the GIL up and takes it back at every row). Here the engine runs in a
helper process: the job's thread sends it the change's bytes (a feeder thread, so that sending
and receiving never wait on each other) and stores each batch of entries as it comes back,
while the helper judges the next ones (what that saves is in docs/benchmarks.md).

A helper is spawned once and serves job after job (`EnginePool`). A job that stops reading
early, on an error of its own, kills its helper (it may be blocked mid-stream); the next job
spawns another. Whatever the helper says is what `ChangeReader` says in-process: the entries in
line order, then the counters of the report and the terminal error, if any.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from manifestdb.manifest import ChangeReader, Dropped, Entry, Terminal
from manifestdb.manifest.types import Limits

log = logging.getLogger("manifestdb.jobs")

BATCH = 500  # entries per message from the helper, and per `EntryWriter.upsert` call
REPORTED_DROPS = 1000  # dropped lines a report lists; the count is always complete

# Entry as sent back: every field the store writes (not `problems`, which it does not read).
_Row = tuple[int, str, str, str, bool, bool, dict[str, int]]


@dataclass(slots=True)
class ReadSummary:
    """What a report and the terminal check need of a read, once it has ended."""

    lines_read: int = 0
    bytes_read: int = 0
    dropped_count: int = 0
    dropped: list[Dropped] = field(default_factory=list)
    entries_with_errors: int = 0
    terminal: Terminal | None = None
    head: bytes = b""  # the first bytes of the change

    @staticmethod
    def of(reader: ChangeReader) -> ReadSummary:
        return ReadSummary(
            lines_read=reader.lines_read,
            bytes_read=reader.bytes_read,
            dropped_count=reader.dropped_count,
            dropped=reader.dropped[:REPORTED_DROPS],
            entries_with_errors=reader.entries_with_errors,
            terminal=reader.terminal(),
            head=reader.head,
        )


class LocalRead:
    """The engine in the job's own thread: for reads whose chunks must stay in this thread
    (a copy streams them out of the job's own transaction)."""

    def __init__(self, limits: Limits, is_manifest: bool) -> None:
        self._reader = ChangeReader(limits, is_manifest=is_manifest, label_tallies=False)
        self.summary = ReadSummary()

    def entries(self, chunks: Iterable[bytes]) -> Iterator[list[Entry]]:
        yield from chunked(self._reader.read(chunks))
        self.summary = ReadSummary.of(self._reader)


class EngineError(RuntimeError):
    """The engine raised in the helper (a bug: in the job's thread it would have raised too)."""


class HelperDied(RuntimeError):
    """The helper process ended or broke the protocol: the job's transaction rolls back and the
    job is applied again, its lines judged in its own thread (`jobs.steps.Steps.apply_lines`)."""


def chunked(items: Iterable[Entry], size: int = BATCH) -> Iterator[list[Entry]]:
    """Groups of at most `size` entries, in order."""
    chunk: list[Entry] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _row(e: Entry) -> _Row:
    return (e.line_number, e.source_ref, e.bucket, e.line, e.is_labeled, e.has_errors, e.labels)


def _serve(conn: Connection) -> None:
    """The helper's loop: one read per request, until the job's side closes the pipe."""
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        limits, is_manifest = request
        ended = False

        def chunks() -> Iterator[bytes]:
            nonlocal ended
            while chunk := conn.recv_bytes():
                yield chunk
            ended = True

        try:
            reader = ChangeReader(limits, is_manifest=is_manifest, label_tallies=False)
            for batch in chunked(reader.read(chunks())):
                rows: list[_Row] = [
                    (
                        e.line_number,
                        e.source_ref,
                        e.bucket,
                        e.line,
                        e.is_labeled,
                        e.has_errors,
                        e.labels,
                    )
                    for e in batch
                ]
                conn.send(("entries", rows))
            answer: tuple[str, Any] = ("done", ReadSummary.of(reader))
        except Exception as error:  # a bug of the engine: the job fails, the helper lives on
            answer = ("error", f"{type(error).__name__}: {error}")
        conn.send(answer)
        while not ended and conn.recv_bytes():  # the rest of a change read no further
            pass


class Helper:
    """One helper process (`python -m manifestdb.jobs.engine`) and the socket to it.

    A plain subprocess, not a `multiprocessing` one: spawning re-imports the parent's main
    module, which would run the top of a user's script that starts manifestdb in-process."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "manifestdb.jobs.engine", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
            )
            self.conn = Connection(os.dup(ours.fileno()))

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """End it now (a feeder blocked on the socket then fails and ends too)."""
        self.process.kill()
        self.process.wait(5)
        self.conn.close()

    def close(self) -> None:
        self.conn.close()  # the helper reads EOF and returns
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()


class RemoteRead:
    """The engine in a helper process; `entries` yields the batches it sends back."""

    def __init__(self, helper: Helper, limits: Limits, is_manifest: bool) -> None:
        self.helper = helper
        self.limits = limits
        self.is_manifest = is_manifest
        self.summary = ReadSummary()
        self.finished = False  # the helper answered "done" and is ready for another read

    def entries(self, chunks: Iterable[bytes]) -> Iterator[list[Entry]]:
        conn = self.helper.conn
        stop = threading.Event()
        feeder = _Feeder(conn, chunks, stop)
        try:
            try:
                conn.send((self.limits, self.is_manifest))
            except OSError as error:
                raise HelperDied(f"the engine's helper process ended: {error!r}") from None
            feeder.start()
            while True:
                try:
                    kind, value = conn.recv()
                except Exception as error:  # ended (EOF), or said what cannot be read
                    raise HelperDied(f"the engine's helper process failed: {error!r}") from None
                if kind == "entries":
                    yield [
                        Entry(number, ref, bucket, line, labeled, errors, labels, [])
                        for number, ref, bucket, line, labeled, errors, labels in value
                    ]
                    continue
                stop.set()  # a read that ended early needs no more of the change
                feeder.join()
                self.finished = True  # the helper waits for the next read
                if feeder.error is not None:
                    raise feeder.error
                if kind == "error":
                    raise EngineError(f"the manifest engine failed in its helper: {value}")
                self.summary = value
                return
        finally:
            stop.set()


class _Feeder(threading.Thread):
    """Sends the change's chunks to the helper, then an empty one for its end."""

    def __init__(self, conn: Connection, chunks: Iterable[bytes], stop: threading.Event) -> None:
        super().__init__(name="manifestdb-engine-feeder", daemon=True)
        self.conn = conn
        self.chunks = chunks
        self.stop = stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for chunk in self.chunks:
                if self.stop.is_set():
                    break
                if chunk:
                    self.conn.send_bytes(chunk)
        except BaseException as error:  # reading the source failed: the job raises it
            self.error = error
        with contextlib.suppress(OSError):  # a killed helper: the job is failing already
            self.conn.send_bytes(b"")


class EnginePool:
    """Idle helpers, one taken per running job (a worker may run several jobs at once).

    After MAX_FAILURES helpers in a row died on a job, the pool gives up (`usable` turns
    False) and jobs judge their lines in their own thread."""

    MAX_FAILURES = 3

    def __init__(self) -> None:
        self._idle: list[Helper] = []
        self._lock = threading.Lock()
        self._closed = False
        self._failures = 0

    @property
    def usable(self) -> bool:
        return not self._closed and self._failures < self.MAX_FAILURES

    def failed(self, error: HelperDied) -> None:
        """A helper died on a job (the job is applied again in its own thread)."""
        self._failures += 1
        log.warning("%s; the job judges its lines in its own thread", error)
        if not self.usable:
            log.error("the engine's helper processes keep failing: jobs no longer use them")

    def warm(self) -> None:
        """Start a helper before the first job needs one (spawning a process is not free)."""
        self._release(Helper())

    def read(self, limits: Limits, is_manifest: bool) -> RemoteRead:
        with self._lock:
            helper = self._idle.pop() if self._idle else None
        if helper is None or not helper.alive():
            if helper is not None:
                helper.kill()
            helper = Helper()
        return RemoteRead(helper, limits, is_manifest)

    def done(self, read: RemoteRead) -> None:
        """Take the helper back if its read ended in order; else kill it (it may be blocked
        mid-stream)."""
        if read.finished and read.helper.alive():
            self._failures = 0
            self._release(read.helper)
        else:
            read.helper.kill()

    def _release(self, helper: Helper) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(helper)
                return
        helper.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for helper in idle:
            helper.close()


if __name__ == "__main__":  # the helper process: its socket's file descriptor is the argument
    # Through the module's own name, so that what it pickles is found on the job's side (not
    # as `__main__.ReadSummary`).
    from manifestdb.jobs import engine

    engine._serve(Connection(int(sys.argv[1])))
