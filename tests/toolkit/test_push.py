"""`manifestdb push` against real servers: splitting, waiting, failures, and the summary."""

from __future__ import annotations

import io
import itertools
import re
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from toolkit_cli import Toolkit

from manifestdb.commands.changes import MAX_CHANGE_BYTES, Change, LineTooLong, read_ahead
from manifestdb.commands.pushview import PushView, error_codes
from support.lines import box_line, image_line, manifest
from support.server import Server, ServerFactory, all_entries, new_dataset, wait_for_status

GARBAGE = "this is not JSON"


@pytest.fixture(scope="module")
def toolkit(server: Server) -> Toolkit:
    return Toolkit(server.url)


def sized_line(index: int, length: int, label: str = "cat") -> bytes:
    """An image-level line of exactly `length` bytes, newline included."""
    line = image_line(f"s3://bucket/img/{index:07d}.jpg", label)
    line["pad"] = ""
    line["pad"] = "x" * (length - len(orjson.dumps(line)) - 1)
    data = orjson.dumps(line) + b"\n"
    assert len(data) == length
    return data


def big_manifest(path: Path, target_bytes: int) -> tuple[int, int]:
    """Write about `target_bytes` of lines, one bad box in every 500; (lines, lines with errors)."""
    lines = errors = 0
    with path.open("wb") as out:
        written = 0
        while written < target_bytes:
            if lines % 500 == 7:
                line = box_line(f"s3://bucket/img/{lines:07d}.jpg", [("dog", -5, 10, 40, 40)])
                data = orjson.dumps(line) + b"\n"
                errors += 1
            else:
                data = sized_line(lines, 420, "cat" if lines % 3 else "bird")
            out.write(data)
            written += len(data)
            lines += 1
    return lines, errors


def summary_numbers(stdout: str) -> dict[str, int]:
    def number(pattern: str) -> int:
        found = re.search(pattern, stdout)
        assert found, f"{pattern!r} not in {stdout!r}"
        return int(found.group(1).replace(",", ""))

    return {
        "sent": number(r"lines sent: ([\d,]+)"),
        "changes": number(r"in (\d+) change"),
        "entries": number(r"entries now in the dataset: ([\d,]+)"),
        "errors": number(r"entries with errors: ([\d,]+)"),
    }


def test_push_12_mib_in_changes_under_5_mib(
    toolkit: Toolkit, rekognition: Any, tmp_path: Path
) -> None:
    path = tmp_path / "big.manifest"
    lines, error_lines = big_manifest(path, 12 * 1024 * 1024)
    _, dataset = new_dataset(rekognition)

    outcome = toolkit.push(str(path), "--dataset-arn", dataset)

    assert outcome.exit_code == 0, outcome.stderr
    numbers = summary_numbers(outcome.stdout)
    assert numbers == {"sent": lines, "changes": 3, "entries": lines, "errors": error_lines}
    progress = re.findall(
        r"change (\d+): lines (\d+)-(\d+) \(([\d,]+) lines, ([\d.]+) MB\)", outcome.stderr
    )
    assert [int(change) for change, *_ in progress] == [1, 2, 3]
    assert int(progress[0][1]) == 1 and int(progress[-1][2]) == lines
    assert all(float(mb) <= MAX_CHANGE_BYTES / 1e6 for *_, mb in progress)
    for previous, following in itertools.pairwise(progress):
        assert int(following[1]) == int(previous[2]) + 1  # in order, no line left out
    stored = all_entries(rekognition, dataset)
    assert [entry["source-ref"] for entry in stored] == [
        f"s3://bucket/img/{index:07d}.jpg" for index in range(lines)
    ]
    # the first entries with errors are shown with their codes
    assert "s3://bucket/img/0000007.jpg: ERROR_NO_VALID_LABEL_ATTRIBUTES (line)" in outcome.stdout
    assert "ERROR_INVALID_BOUNDING_BOX (bounding-box box 0)" in outcome.stdout
    assert f"and {error_lines - 5:,} more" in outcome.stdout


def test_a_failed_change_stops_the_push(toolkit: Toolkit, rekognition: Any, tmp_path: Path) -> None:
    # three changes of exactly 100 lines of 300 bytes; the second has 40% garbage lines
    good = [sized_line(index, 300) for index in range(300)]
    garbage = (GARBAGE + " " * (299 - len(GARBAGE)) + "\n").encode()
    lines = good[:160] + [garbage] * 40 + good[200:]
    path = tmp_path / "failing.manifest"
    path.write_bytes(b"".join(lines))
    _, dataset = new_dataset(rekognition)

    outcome = toolkit.push(str(path), "--dataset-arn", dataset, "--max-change-bytes", "30000")

    assert outcome.exit_code == 1
    assert "change 2 (lines 101-200) UPDATE_FAILED: CLIENT_ERROR" in outcome.stderr
    assert (
        "ERROR_TOO_MANY_RECORDS_IN_ERROR: The manifest file has too many terminal errors."
        in outcome.stderr
    )
    assert "changes 1-1 (lines 1-100) stay applied; nothing after line 200 was sent" in (
        outcome.stderr
    )
    assert "lines sent" not in outcome.stdout
    description = rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert description["Status"] == "UPDATE_FAILED"
    assert description["DatasetStats"]["TotalEntries"] == 100


def test_a_line_longer_than_a_change_is_refused_before_sending(
    toolkit: Toolkit, rekognition: Any, tmp_path: Path
) -> None:
    path = tmp_path / "long.manifest"
    path.write_bytes(sized_line(0, 300) + sized_line(1, 300) + sized_line(2, 1500))
    _, dataset = new_dataset(rekognition)

    outcome = toolkit.push(str(path), "--dataset-arn", dataset, "--max-change-bytes", "1000")

    assert outcome.exit_code == 1
    assert "line 3 is longer than 1,000 bytes" in outcome.stderr
    stats = rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert stats["DatasetStats"]["TotalEntries"] == 0


def test_stdin_blank_lines_and_duplicates(toolkit: Toolkit, rekognition: Any) -> None:
    first = image_line("s3://bucket/dup.jpg", "first")
    later = image_line("s3://bucket/dup.jpg", "later")
    box = box_line("s3://bucket/b.jpg", [("y", 1, 1, 20, 20)])
    data = manifest(first, "", image_line("s3://bucket/a.jpg", "x"), "   ", box, later)
    _, dataset = new_dataset(rekognition)

    # changes [first, a] and [box] (500 bytes at most): sent, `later` would replace `first`
    outcome = toolkit.push("-", "--dataset-arn", dataset, "--max-change-bytes", "500", input=data)

    assert outcome.exit_code == 0, outcome.stderr
    assert summary_numbers(outcome.stdout) == {"sent": 3, "changes": 2, "entries": 3, "errors": 0}
    assert "duplicate source-refs skipped: 1" in outcome.stdout
    stored = {entry["source-ref"]: entry for entry in all_entries(rekognition, dataset)}
    assert stored["s3://bucket/dup.jpg"]["label-metadata"]["class-name"] == "first"


def test_stdin_line_too_long_names_the_line_after_earlier_changes(
    toolkit: Toolkit, rekognition: Any
) -> None:
    head = [sized_line(index, 300) for index in range(4)]
    data = b"".join(head[:3]) + b"\n" + head[3] + sized_line(4, 1500)
    _, dataset = new_dataset(rekognition)

    outcome = toolkit.push("-", "--dataset-arn", dataset, "--max-change-bytes", "1000", input=data)

    # the first change (lines 1-3) is sent when line 5 starts the second; line 6 is too long
    assert outcome.exit_code == 1
    assert "line 6 is longer than 1,000 bytes" in outcome.stderr
    assert "changes 1-1 (lines 1-3) stay applied." in outcome.stderr
    description = rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert description["DatasetStats"]["TotalEntries"] == 3


def test_a_busy_dataset_is_waited_for(start_server: ServerFactory, tmp_path: Path) -> None:
    # The first change holds the dataset for 3 s: long enough that push, a new process started
    # on a loaded machine, still finds it busy.
    slow: Server = start_server("--job-delay", "3")
    client = slow.client()
    _, dataset = new_dataset(client)
    client.update_dataset_entries(
        DatasetArn=dataset, Changes={"GroundTruth": manifest(image_line("s3://bucket/0.jpg", "a"))}
    )
    path = tmp_path / "m.manifest"
    path.write_bytes(manifest(*(image_line(f"s3://bucket/{i}.jpg", "b") for i in range(1, 4))))

    outcome = Toolkit(slow.url).push(str(path), "--dataset-arn", dataset)

    assert outcome.exit_code == 0, outcome.stderr
    assert "the dataset is busy: waiting" in outcome.stderr
    assert summary_numbers(outcome.stdout)["entries"] == 4
    assert wait_for_status(client, dataset)["Status"] == "UPDATE_COMPLETE"


def test_service_errors_and_missing_settings(
    toolkit: Toolkit, rekognition: Any, tmp_path: Path
) -> None:
    path = tmp_path / "m.manifest"
    path.write_bytes(manifest(image_line("s3://bucket/a.jpg", "a")))
    _, dataset = new_dataset(rekognition)
    missing = dataset[:-1] + ("1" if dataset[-1] != "1" else "2")

    outcome = toolkit.push(str(path), "--dataset-arn", missing)
    assert outcome.exit_code == 1
    assert "manifestdb push: ResourceNotFoundException:" in outcome.stderr

    outcome = toolkit.push(str(tmp_path / "nope.manifest"), "--dataset-arn", dataset)
    assert outcome.exit_code == 2
    assert "cannot read" in outcome.stderr

    outcome = toolkit.push(str(path), "--dataset-arn", dataset, "--profile", "no-such-profile")
    assert outcome.exit_code == 2
    assert "no-such-profile" in outcome.stderr


def test_error_codes_at_every_level() -> None:
    line = {
        "source-ref": "s3://bucket/a.jpg",
        "errors": [{"code": "E_LINE"}],
        "box": {
            "annotations": [{"errors": [{"code": "E_BOX"}]}, {}],
            "errors": [{"code": "E_ATTR"}],
        },
        "box-metadata": {"errors": [{"code": "E_META"}]},
    }
    assert error_codes(line) == [
        ("line", "E_LINE"),
        ("box", "E_ATTR"),
        ("box box 0", "E_BOX"),
        ("box-metadata", "E_META"),
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal() -> None:
    stream = Terminal()
    change = Change(1, b"x" * 2_000_000, 10, 1, 10, 2_000_000, 10, 2_000_000)
    with PushView("big.manifest", 4_000_000, stream=stream) as view:
        view.change_started(change)
        view.change_done(change)
        view.note("the dataset is busy: waiting")
    text = stream.getvalue()
    assert "10 lines" in text and "2.0 MB" in text and "1 changes" in text and "50%" in text
    assert "the dataset is busy: waiting" in text


def _changes(count: int, then: BaseException | None = None) -> Any:
    for number in range(1, count + 1):
        yield Change(number, b"x", 1, number, number, 1, number, number)
    if then is not None:
        raise then


def test_read_ahead_keeps_order_and_raises_where_the_splitter_did() -> None:
    got: list[int] = []
    with (
        pytest.raises(LineTooLong, match="line 3 is longer"),
        read_ahead(_changes(2, LineTooLong(3, 10))) as changes,
    ):
        for change in changes:
            got.append(change.number)
    assert got == [1, 2]
    with read_ahead(_changes(5)) as changes:
        assert [change.number for change in changes] == [1, 2, 3, 4, 5]


def test_read_ahead_stops_its_thread_when_the_push_stops_early() -> None:
    with read_ahead(_changes(1000)) as changes:
        assert next(changes).number == 1
    assert not [t for t in threading.enumerate() if t.name == "push-read-ahead"]
