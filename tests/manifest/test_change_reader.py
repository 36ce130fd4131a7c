"""ChangeReader: line splitting, duplicates, counters, terminal outcomes, flat memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from dataclasses import replace

import orjson
import pytest

from manifestdb.manifest import (
    AWS_LIMITS,
    INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE,
    RELAXED_LIMITS,
    ChangeReader,
    Dropped,
    Limits,
    dataset_terminal,
    distribute_terminal,
)
from support.line_builders import box, box_pair, image_pair, make_line


def ref_line(index: int, bucket: str = "bucket") -> bytes:
    return orjson.dumps(make_line(image_pair(), source_ref=f"s3://{bucket}/{index}.jpg"))


def read_all(data: bytes | list[bytes], **options: object) -> tuple[ChangeReader, list[int]]:
    reader = ChangeReader(**options)  # type: ignore[arg-type]
    chunks = [data] if isinstance(data, bytes) else data
    return reader, [entry.line_number for entry in reader.read(chunks)]


def test_lines_split_across_chunks_crlf_and_blank_lines() -> None:
    data = ref_line(1) + b"\r\n\r\n   \n" + ref_line(2) + b"\n\n" + ref_line(3)
    for size in (1, 2, 7, 64, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        reader, numbers = read_all(chunks)
        assert numbers == [1, 4, 6]
        assert reader.lines_read == 3 and reader.bytes_read == len(data)
        assert reader.terminal() is None


def test_byte_order_mark_at_start_is_ignored() -> None:
    reader, numbers = read_all(b"\xef\xbb\xbf" + ref_line(1) + b"\n")
    assert numbers == [1] and reader.dropped == []


def test_duplicate_source_ref_first_wins() -> None:
    first = orjson.dumps(make_line(image_pair("a", "cat")))
    second = orjson.dumps(make_line(image_pair("a", "dog")))
    reader = ChangeReader()
    kept = list(reader.read([first + b"\n" + second + b"\n" + ref_line(3) + b"\n"]))
    assert [e.labels for e in kept] == [{"cat": 0}, {"cat": 0}]
    assert reader.dropped == [
        Dropped(
            2,
            "ERROR_DUPLICATE_SOURCE_REF",
            "An earlier line of this change has the same source-ref.",
            second.decode()[:200],
            'source-ref "s3://bucket/images/a.jpg" is on an earlier line of this change: a change'
            " holds each image once, and its first line is kept",
        )
    ]
    assert reader.code_counts == {"ERROR_DUPLICATE_SOURCE_REF": 1}


def test_counters_and_label_tallies() -> None:
    lines = [
        make_line(image_pair("a", "cat"), source_ref="s3://bucket/1.jpg"),
        make_line(box_pair(boxes=[box(), box(), box(width=1)]), source_ref="s3://bucket/2.jpg"),
        make_line(source_ref="s3://bucket/3.jpg"),
    ]
    data = b"\n".join(orjson.dumps(line) for line in lines) + b"\nnot json\n"
    reader, numbers = read_all(data)
    assert numbers == [1, 2, 3]
    assert (reader.lines_read, reader.entries, reader.labeled_entries) == (4, 3, 2)
    assert (reader.entries_with_errors, reader.dropped_count) == (1, 1)
    assert reader.label_entries == {"cat": 2}
    assert reader.label_box_entries == {"cat": 1} and reader.label_boxes == {"cat": 2}
    assert reader.code_counts == {
        "ERROR_BOUNDING_BOX_TOO_SMALL": 1,
        "WARNING_UNANNOTATED_RECORD": 1,
        "ERROR_INVALID_JSON_LINE": 1,
    }
    assert reader.buckets == {"bucket"}
    terminal = reader.terminal()  # 1 of 4 lines dropped
    assert terminal is not None and terminal.code == "ERROR_TOO_MANY_RECORDS_IN_ERROR"


def test_dropped_list_is_capped_but_counted_and_reported() -> None:
    seen: list[Dropped] = []
    reader = ChangeReader(keep_dropped=2, on_dropped=seen.append)
    list(reader.read([b"x\n" * 5]))
    assert len(reader.dropped) == 2 and reader.dropped_count == 5 and len(seen) == 5
    assert [d.line_number for d in seen] == [1, 2, 3, 4, 5]


def test_read_twice_is_refused() -> None:
    reader = ChangeReader()
    list(reader.read([ref_line(1)]))
    with pytest.raises(RuntimeError):
        list(reader.read([ref_line(1)]))


# -- terminal outcomes ------------------------------------------------------------------------


INACCESSIBLE = (
    "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
    "The manifest file extension or contents are invalid.",
)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n \n\r\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        '{"source-ref": "s3://bucket/a.jpg"}\n'.encode("utf-16"),
        b'[1]\n2\n"x"\n',
    ],
    ids=["empty", "blank only", "binary", "UTF-16", "no object"],
)
def test_no_json_object_is_inaccessible(data: bytes) -> None:
    reader, numbers = read_all(data, is_manifest=True)
    terminal = reader.terminal()
    assert numbers == [] and terminal is not None
    assert (terminal.code, terminal.message) == INACCESSIBLE


def test_objects_without_source_ref_are_not_inaccessible() -> None:
    reader, _ = read_all(b'{"a": 1}\n')
    terminal = reader.terminal()
    assert terminal is not None and terminal.code == "ERROR_TOO_MANY_RECORDS_IN_ERROR"
    assert terminal.status_message == (
        "ERROR_TOO_MANY_RECORDS_IN_ERROR: The manifest file has too many terminal errors."
    )


def test_too_many_records_in_error_is_more_than_20_percent() -> None:
    good = b"".join(ref_line(i) + b"\n" for i in range(8))
    reader, _ = read_all(good + b"bad\nbad\n")  # 2 of 10: exactly 20%
    assert reader.terminal() is None
    reader, _ = read_all(good + b"bad\nbad\nbad\n")  # 3 of 11
    terminal = reader.terminal()
    assert terminal is not None and terminal.code == "ERROR_TOO_MANY_RECORDS_IN_ERROR"


def test_manifest_size_limit_stops_reading() -> None:
    limits = Limits(max_manifest_bytes=1000)
    consumed: list[int] = []

    def chunks() -> Iterator[bytes]:
        for index in range(100):
            consumed.append(index)
            yield ref_line(index) + b"\n"

    reader = ChangeReader(limits, is_manifest=True)
    list(reader.read(chunks()))
    terminal = reader.terminal()
    assert terminal is not None and (terminal.code, terminal.message) == (
        "ERROR_MANIFEST_SIZE_TOO_LARGE",
        "The manifest file size exceeds the maximum supported size.",
    )
    assert len(consumed) < 20
    # An UpdateDatasetEntries change is bounded by the wire layer, not by the manifest limits.
    reader = ChangeReader(limits)
    list(reader.read(chunks()))
    assert reader.terminal() is None


def test_manifest_rows_limit_counts_non_blank_lines() -> None:
    limits = Limits(max_manifest_lines=3)
    data = b"\n".join(ref_line(i) for i in range(3)) + b"\n\n\n"
    reader, numbers = read_all(data, limits=limits, is_manifest=True)
    assert reader.terminal() is None and numbers == [1, 2, 3]
    reader, numbers = read_all(
        data + ref_line(4) + b"\n" + ref_line(5), limits=limits, is_manifest=True
    )
    terminal = reader.terminal()
    assert terminal is not None and (terminal.code, terminal.message) == (
        "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM",
        "The manifest file has too many rows.",
    )
    assert reader.lines_read == 4


def test_size_beats_inaccessible() -> None:
    reader, _ = read_all(b"\x00" * 200, limits=Limits(max_manifest_bytes=100), is_manifest=True)
    terminal = reader.terminal()
    assert terminal is not None and terminal.code == "ERROR_MANIFEST_SIZE_TOO_LARGE"


def test_inaccessible_beats_too_many_records() -> None:
    reader, _ = read_all(b"junk\n" * 10)
    terminal = reader.terminal()
    assert terminal is not None and terminal.code == INACCESSIBLE[0]


ROWS = ("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM", "The manifest file has too many rows.")
LABELS = ("ERROR_MANIFEST_TOO_MANY_LABELS", "The manifest file has too many labels.")
BUCKETS = (
    "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS",
    "The manifest file contains images from multiple S3 buckets.",
)


@pytest.mark.parametrize(
    ("entries", "labels", "buckets", "limits", "expected"),
    [
        (250_000, 250, 1, AWS_LIMITS, None),
        (250_001, 251, 2, AWS_LIMITS, ROWS),
        (10, 251, 2, AWS_LIMITS, LABELS),
        (10, 3, 2, AWS_LIMITS, BUCKETS),
        (10**6, 10**4, 1, RELAXED_LIMITS, None),
        (10**6, 10**4, 2, RELAXED_LIMITS, BUCKETS),
        (0, 0, 0, AWS_LIMITS, None),
    ],
)
def test_dataset_terminal(
    entries: int, labels: int, buckets: int, limits: Limits, expected: tuple[str, str] | None
) -> None:
    terminal = dataset_terminal(
        total_entries=entries, total_labels=labels, bucket_count=buckets, limits=limits
    )
    assert (None if terminal is None else (terminal.code, terminal.message)) == expected


def test_distribute_terminal() -> None:
    assert distribute_terminal(labeled_training_entries=2) is None
    terminal = distribute_terminal(labeled_training_entries=1)
    assert terminal is INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE
    assert terminal.status_message == (
        "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE: The manifest file doesn't have "
        "enough labeled images to distribute the dataset."
    )


# -- memory -------------------------------------------------------------------------------------


def test_line_without_newline_is_held_only_up_to_a_cap() -> None:
    chunk = b'{"source-ref":"s3://bucket/a.jpg","x":"' + b"y" * 65_000

    def chunks() -> Iterator[bytes]:
        for _ in range(300):  # ~20 MB in one line
            yield chunk

    tracemalloc.start()
    try:
        reader = ChangeReader()
        list(reader.read(chunks()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * 1024 * 1024
    assert [(d.line_number, d.code) for d in reader.dropped] == [(1, "ERROR_JSON_LINE_TOO_LONG")]
    assert reader.dropped[0].excerpt == chunk[:200].decode()


def test_overlong_blank_line_is_still_blank() -> None:
    reader, numbers = read_all([b" " * 300_000, b" " * 300_000, b"\n", ref_line(1)])
    assert numbers == [2] and reader.lines_read == 1 and reader.dropped == []


def test_memory_is_flat_over_many_lines() -> None:
    """20,000 lines: what grows is the seen set (16-byte digests), not the parsed lines."""
    line = orjson.dumps(make_line(box_pair(boxes=[box()] * 5)))

    def chunks() -> Iterator[bytes]:
        for start in range(0, 20_000, 500):
            yield b"".join(
                line.replace(b"a.jpg", b"%d.jpg" % i) + b"\n" for i in range(start, start + 500)
            )

    tracemalloc.start()
    try:
        reader = ChangeReader()
        for _ in reader.read(chunks()):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reader.entries == 20_000
    assert peak < 6 * 1024 * 1024  # the input itself is ~9 MB


def test_relaxed_limits_lift_the_manifest_line_cap() -> None:
    lines = b"".join(b'{"source-ref": "s3://bucket/%d.jpg"}\n' % i for i in range(10))
    capped = ChangeReader(replace(AWS_LIMITS, max_manifest_lines=5), is_manifest=True)
    assert len(list(capped.read([lines]))) == 5
    terminal = capped.terminal()
    assert terminal is not None and terminal.code == "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"
    assert RELAXED_LIMITS.max_manifest_lines is None
    uncapped = ChangeReader(RELAXED_LIMITS, is_manifest=True)
    assert len(list(uncapped.read([lines]))) == 10
    assert uncapped.terminal() is None
