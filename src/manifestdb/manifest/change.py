"""Reads one change (an UpdateDatasetEntries payload or a manifest file) as a stream of entries.

`ChangeReader.read` turns byte chunks into the entries to store, keeping counters for the
update's report and the `validate` summary; `terminal()` then says whether the change fails as a
whole. `dataset_terminal` and `distribute_terminal` are the checks that need the dataset.

Memory stays flat whatever the input size: lines are judged one at a time and forgotten; a
line is held only up to 4 x the character limit (past that it is surely too long, and only its
head is kept for the excerpt); what grows is the record of source-refs seen, the distinct
buckets and the per-label tallies. Source-refs are recorded per bucket by their object key
(what follows `s3://<bucket>/`): its UTF-8 bytes themselves up to 47 bytes, exact, else a
16-byte BLAKE2b digest (a collision is ~1e-27 likely at 250,000 lines): short keys, the usual
case, are kept exact and cost no hashing; long ones cost at most a digest's 16 bytes
(the memory per line is in docs/benchmarks.md, "Measurements behind the design").
`dropped` keeps the first `keep_dropped` dropped lines; `dropped_count` counts them all, and
`on_dropped` sees each one as it is found (in line order with the yielded entries).
`label_tallies=False` leaves `label_entries`, `label_box_entries` and `label_boxes` empty, for a
caller that does not report them (counting is a measurable share of the reading time).
`store_lines=False` leaves each entry's `line` empty, for a caller that stores nothing, like
`manifestdb validate` (writing the lines out is another such share); the lines are judged the same.

A UTF-8 byte order mark at the start of the change is ignored. When `terminal()` is not None,
the caller must discard every entry it was given: nothing of a failed change is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from hashlib import blake2b

from manifestdb.manifest import codes, details
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
# Object keys up to this many UTF-8 bytes are recorded as they are (see the module docstring).
_EXACT_KEY_BYTES = 47
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

    def feed(self, chunk: bytes) -> list[bytes | _Overlong]:
        """The lines `chunk` completes, in order; its unfinished last line is held."""
        pieces = chunk.split(b"\n")
        tail = pieces.pop()
        lines: list[bytes | _Overlong] = (
            [piece[:-1] if piece.endswith(b"\r") else piece for piece in pieces]
            if b"\r" in chunk
            else list(pieces)
        )
        if pieces and (self._parts or self._overlong is not None):
            self._add(pieces[0])  # the end of the held line (its "\r" is dropped once joined)
            lines[0] = self._take_pending()
        self._add(tail)
        return lines

    def close(self) -> list[bytes | _Overlong]:
        if self._parts or self._overlong is not None:
            return [self._take_pending()]
        return []

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


class _LabelTally:
    """What the kept entries of a change do with one label."""

    __slots__ = ("box_entries", "boxes", "entries")

    def __init__(self) -> None:
        self.entries = 0  # entries using it in any way
        self.box_entries = 0  # entries with a valid box of it
        self.boxes = 0  # valid boxes


class ChangeReader:
    """Judges the lines of one change and yields the entries to store (one reader per change)."""

    def __init__(
        self,
        limits: Limits = AWS_LIMITS,
        *,
        is_manifest: bool = False,
        keep_dropped: int = 10_000,
        on_dropped: Callable[[Dropped], None] | None = None,
        label_tallies: bool = True,
        store_lines: bool = True,
    ) -> None:
        self.limits = limits
        self.is_manifest = is_manifest
        self.lines_read = 0  # non-blank lines
        self.bytes_read = 0
        self.head = b""  # the first bytes read, to say what a change that is no manifest holds
        self.entries = 0  # entries yielded
        self.labeled_entries = 0
        self.entries_with_errors = 0
        self.dropped: list[Dropped] = []
        self.dropped_count = 0
        self.code_counts: dict[str, int] = {}  # every error/warning/dropped code -> occurrences
        self.buckets: set[str] = set()
        # One dict, so that tallying a label of an entry takes one lookup (see `label_entries`).
        self._tallies: dict[str, _LabelTally] = {}
        self._keep_dropped = keep_dropped
        self._on_dropped = on_dropped
        self._label_tallies = label_tallies
        self._store_lines = store_lines
        self._seen: dict[str, set[bytes]] = {}  # bucket -> object keys (see the docstring)
        self._dropped_object = False  # whether a dropped line was a JSON object
        self._stop: Terminal | None = None
        self._started = False

    def read(self, chunks: Iterable[bytes]) -> Iterator[Entry]:
        """Yield each entry to store, in line order; stops early past a manifest limit."""
        if self._started:
            raise RuntimeError("a ChangeReader reads one change only")
        self._started = True
        limits = self.limits
        max_lines = limits.max_manifest_lines if self.is_manifest else None
        seen = self._seen
        bucket: str | None = None
        keys: set[bytes] = set()
        key_start = 0  # where the object key starts in a source-ref of `bucket`
        tallies = self._tallies if self._label_tallies else None
        store = self._store_lines
        number = 0
        for lines in self._lines(chunks):
            for raw in lines:
                number += 1
                if type(raw) is bytes and number > 1:
                    result = check_line(raw, number, limits, store)
                else:
                    result = self._check_first_or_overlong(raw, number)
                if result is None:
                    continue
                self.lines_read += 1
                if max_lines is not None and self.lines_read > max_lines:
                    self._stop = codes.MANIFEST_ROWS_EXCEEDS_MAXIMUM
                    return
                if isinstance(result, Dropped):
                    if result.code not in _NOT_AN_OBJECT:
                        self._dropped_object = True
                    self._drop(result)
                    continue
                if result.bucket != bucket:
                    bucket = result.bucket
                    keys = seen.setdefault(bucket, set())
                    key_start = len("s3://") + len(bucket) + 1
                    self.buckets.add(bucket)
                key = result.source_ref[key_start:].encode()
                if len(key) > _EXACT_KEY_BYTES:
                    key = blake2b(key, digest_size=16).digest()
                known = len(keys)
                keys.add(key)  # one probe of the set, not two (`in`, then `add`)
                if len(keys) == known:
                    self._drop_duplicate(raw, number, result.source_ref)
                    continue
                # The tallies of a kept entry.
                self.entries += 1
                if result.is_labeled:
                    self.labeled_entries += 1
                if result.problems:
                    self._count_problems(result)
                if tallies is not None:
                    for label, boxes in result.labels.items():
                        try:
                            tally = tallies[label]
                        except KeyError:  # once a label
                            tally = tallies[label] = _LabelTally()
                        tally.entries += 1
                        if boxes:
                            tally.box_entries += 1
                            tally.boxes += boxes
                yield result

    @property
    def label_entries(self) -> dict[str, int]:
        """label -> entries using it in any way."""
        return {label: tally.entries for label, tally in self._tallies.items()}

    @property
    def label_box_entries(self) -> dict[str, int]:
        """label -> entries with a valid box of it (labels with none are left out)."""
        return {label: t.box_entries for label, t in self._tallies.items() if t.box_entries}

    @property
    def label_boxes(self) -> dict[str, int]:
        """label -> valid boxes (labels with none are left out)."""
        return {label: tally.boxes for label, tally in self._tallies.items() if tally.boxes}

    def terminal(self) -> Terminal | None:
        """The change-local terminal outcome once `read` is exhausted, or None."""
        if self._stop is not None:
            return self._stop
        if not (self.entries or self._dropped_object):  # no line is a JSON object
            return codes.MANIFEST_INACCESSIBLE
        if self.dropped_count / self.lines_read > self.limits.max_dropped_fraction:
            return codes.TOO_MANY_RECORDS_IN_ERROR
        return None

    def _lines(self, chunks: Iterable[bytes]) -> Iterator[list[bytes | _Overlong]]:
        """The lines of `chunks`, a list per chunk; stops past the manifest size limit."""
        splitter = _LineSplitter(4 * self.limits.max_line_chars + 1)
        for chunk in chunks:
            if not self.bytes_read:
                self.head = bytes(chunk[:64])
            self.bytes_read += len(chunk)
            if self.is_manifest and self.bytes_read > self.limits.max_manifest_bytes:
                self._stop = codes.MANIFEST_SIZE_TOO_LARGE
                return
            yield splitter.feed(chunk)
        yield splitter.close()

    def _check_first_or_overlong(
        self, raw: bytes | _Overlong, number: int
    ) -> Entry | Dropped | None:
        if isinstance(raw, _Overlong):
            return None if raw.blank else too_long(raw.head, number, self.limits)
        line = raw[len(_BOM) :] if number == 1 and raw.startswith(_BOM) else raw
        return check_line(line, number, self.limits, self._store_lines)

    def _drop_duplicate(self, raw: bytes | _Overlong, number: int, source_ref: str) -> None:
        """Drop line `number` (an entry's, so bytes) as ERROR_DUPLICATE_SOURCE_REF."""
        line = raw.head if isinstance(raw, _Overlong) else raw
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        reason = codes.SOURCE_REF_DUPLICATE
        detail = details.duplicate(source_ref)
        self._drop(Dropped(number, reason.code, reason.message, excerpt(line), detail))

    def _drop(self, dropped: Dropped) -> None:
        self.dropped_count += 1
        self.code_counts[dropped.code] = self.code_counts.get(dropped.code, 0) + 1
        if len(self.dropped) < self._keep_dropped:
            self.dropped.append(dropped)
        if self._on_dropped is not None:
            self._on_dropped(dropped)

    def _count_problems(self, entry: Entry) -> None:
        if entry.has_errors:
            self.entries_with_errors += 1
        counts = self.code_counts
        for problem in entry.problems:
            counts[problem.code] = counts.get(problem.code, 0) + 1


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
