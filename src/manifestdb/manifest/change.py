"""Reads one change (an UpdateDatasetEntries payload or a manifest file) as a stream of entries.

`ChangeReader.read` turns byte chunks into the entries to store, keeping counters for the
update's report and the `validate` summary; `terminal()` then says whether the change fails as a
whole. `dataset_terminal` and `distribute_terminal` are the checks that need the dataset.

Memory stays flat whatever the input size: lines are judged one at a time and forgotten; a
line is held only up to 4 x the character limit (past that it is surely too long, and only its
head is kept for the excerpt); what grows is the set of source-refs seen (16-byte BLAKE2b
digests, ~90 bytes each with the set's overhead and independent of the source-ref's length; a
collision is ~1e-27 likely at 250,000 lines), the distinct buckets and the per-label tallies.
`dropped` keeps the first `keep_dropped` dropped lines; `dropped_count` counts them all, and
`on_dropped` sees each one as it is found (in line order with the yielded entries).

A UTF-8 byte order mark at the start of the change is ignored. When `terminal()` is not None,
the caller must discard every entry it was given: nothing of a failed change is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from hashlib import blake2b

from manifestdb.manifest import codes
from manifestdb.manifest.codes import INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE
from manifestdb.manifest.line import BLANK_BYTES, check_line, excerpt, too_long
from manifestdb.manifest.types import AWS_LIMITS, Dropped, Entry, Limits, Terminal

__all__ = [
    "INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE",
    "ChangeReader",
    "dataset_terminal",
    "distribute_terminal",
]

_BOM = b"\xef\xbb\xbf"
# Lines that say nothing about whether the change holds JSON objects at all.
_NOT_AN_OBJECT = frozenset({codes.JSON_LINE_TOO_LONG, codes.INVALID_JSON_LINE})


class _Overlong:
    """A line past the byte cap: its head for the excerpt, and whether it was all blank."""

    __slots__ = ("blank", "head")

    def __init__(self, head: bytes, blank: bool) -> None:
        self.head = head
        self.blank = blank


class _LineSplitter:
    """Cuts a byte stream into lines at `\\n` (dropping one trailing `\\r`), bounded in memory."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._parts: list[bytes] = []
        self._size = 0
        self._overlong: _Overlong | None = None

    def feed(self, chunk: bytes) -> Iterator[bytes | _Overlong]:
        pieces = chunk.split(b"\n")
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            if index == last:
                self._add(piece)
            elif index == 0 and (self._parts or self._overlong is not None):
                self._add(piece)
                yield self._take_pending()
            else:
                yield piece[:-1] if piece.endswith(b"\r") else piece

    def close(self) -> Iterator[bytes | _Overlong]:
        if self._parts or self._overlong is not None:
            yield self._take_pending()

    def _add(self, piece: bytes) -> None:
        if self._overlong is not None:
            self._overlong.blank = self._overlong.blank and not piece.strip(BLANK_BYTES)
            return
        if not piece:
            return
        self._parts.append(piece)
        self._size += len(piece)
        if self._size > self._cap:
            held = b"".join(self._parts)
            self._overlong = _Overlong(held[: self._cap], not held.strip(BLANK_BYTES))
            self._parts, self._size = [], 0

    def _take_pending(self) -> bytes | _Overlong:
        if self._overlong is not None:
            overlong, self._overlong = self._overlong, None
            return overlong
        line = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts, self._size = [], 0
        return line[:-1] if line.endswith(b"\r") else line


class ChangeReader:
    """Judges the lines of one change and yields the entries to store (one reader per change)."""

    def __init__(
        self,
        limits: Limits = AWS_LIMITS,
        *,
        is_manifest: bool = False,
        keep_dropped: int = 10_000,
        on_dropped: Callable[[Dropped], None] | None = None,
    ) -> None:
        self.limits = limits
        self.is_manifest = is_manifest
        self.lines_read = 0  # non-blank lines
        self.bytes_read = 0
        self.entries = 0  # entries yielded
        self.labeled_entries = 0
        self.entries_with_errors = 0
        self.dropped: list[Dropped] = []
        self.dropped_count = 0
        self.code_counts: dict[str, int] = {}  # every error/warning/dropped code -> occurrences
        self.label_entries: dict[str, int] = {}  # label -> entries using it in any way
        self.label_box_entries: dict[str, int] = {}  # label -> entries with a valid box of it
        self.label_boxes: dict[str, int] = {}  # label -> valid boxes
        self.buckets: set[str] = set()
        self._keep_dropped = keep_dropped
        self._on_dropped = on_dropped
        self._seen: set[bytes] = set()
        self._line_number = 0
        self._saw_object = False
        self._stop: Terminal | None = None
        self._started = False

    def read(self, chunks: Iterable[bytes]) -> Iterator[Entry]:
        """Yield each entry to store, in line order; stops early past a manifest limit."""
        if self._started:
            raise RuntimeError("a ChangeReader reads one change only")
        self._started = True
        splitter = _LineSplitter(4 * self.limits.max_line_chars + 1)
        for chunk in chunks:
            self.bytes_read += len(chunk)
            if self.is_manifest and self.bytes_read > self.limits.max_manifest_bytes:
                self._stop = codes.MANIFEST_SIZE_TOO_LARGE
                return
            for raw in splitter.feed(chunk):
                entry = self._take(raw)
                if entry is not None:
                    yield entry
                elif self._stop is not None:
                    return
        for raw in splitter.close():
            entry = self._take(raw)
            if entry is not None:
                yield entry

    def terminal(self) -> Terminal | None:
        """The change-local terminal outcome once `read` is exhausted, or None."""
        if self._stop is not None:
            return self._stop
        if not self._saw_object:
            return codes.MANIFEST_INACCESSIBLE
        if self.dropped_count / self.lines_read > self.limits.max_dropped_fraction:
            return codes.TOO_MANY_RECORDS_IN_ERROR
        return None

    def _take(self, raw: bytes | _Overlong) -> Entry | None:
        self._line_number += 1
        number = self._line_number
        result: Entry | Dropped | None
        if isinstance(raw, _Overlong):
            line = raw.head
            result = None if raw.blank else too_long(line, number, self.limits)
        else:
            line = raw[len(_BOM) :] if number == 1 and raw.startswith(_BOM) else raw
            result = check_line(line, number, self.limits)
        if result is None:
            return None
        self.lines_read += 1
        if self.is_manifest and self.lines_read > self.limits.max_manifest_lines:
            self._stop = codes.MANIFEST_ROWS_EXCEEDS_MAXIMUM
            return None
        if isinstance(result, Dropped):
            self._saw_object = self._saw_object or result.code not in _NOT_AN_OBJECT
            self._drop(result)
            return None
        self._saw_object = True
        digest = blake2b(result.source_ref.encode("utf-8"), digest_size=16).digest()
        if digest in self._seen:
            reason = codes.SOURCE_REF_DUPLICATE
            self._drop(Dropped(number, reason.code, reason.message, excerpt(line)))
            return None
        self._seen.add(digest)
        self._tally(result)
        return result

    def _drop(self, dropped: Dropped) -> None:
        self.dropped_count += 1
        self.code_counts[dropped.code] = self.code_counts.get(dropped.code, 0) + 1
        if len(self.dropped) < self._keep_dropped:
            self.dropped.append(dropped)
        if self._on_dropped is not None:
            self._on_dropped(dropped)

    def _tally(self, entry: Entry) -> None:
        self.entries += 1
        self.labeled_entries += entry.is_labeled
        self.entries_with_errors += entry.has_errors
        counts = self.code_counts
        for problem in entry.problems:
            counts[problem.code] = counts.get(problem.code, 0) + 1
        for label, boxes in entry.labels.items():
            self.label_entries[label] = self.label_entries.get(label, 0) + 1
            if boxes:
                self.label_box_entries[label] = self.label_box_entries.get(label, 0) + 1
                self.label_boxes[label] = self.label_boxes.get(label, 0) + boxes
        self.buckets.add(entry.bucket)


def dataset_terminal(
    *, total_entries: int, total_labels: int, bucket_count: int, limits: Limits
) -> Terminal | None:
    """The terminal outcome of a dataset as it would be after a change, or None."""
    if (
        limits.max_entries_per_dataset is not None
        and total_entries > limits.max_entries_per_dataset
    ):
        return codes.MANIFEST_ROWS_EXCEEDS_MAXIMUM
    if limits.max_labels_per_dataset is not None and total_labels > limits.max_labels_per_dataset:
        return codes.MANIFEST_TOO_MANY_LABELS
    if bucket_count > 1:
        return codes.IMAGES_IN_MULTIPLE_S3_BUCKETS
    return None


def distribute_terminal(*, labeled_training_entries: int) -> Terminal | None:
    """DistributeDatasetEntries fails with fewer than 2 labeled training entries (api.md)."""
    if labeled_training_entries < 2:
        return INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE
    return None
