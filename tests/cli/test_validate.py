"""`manifestdb validate` on files and stdin: reports and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from manifestdb.commands.validate import validate_command

SAMPLES = Path(__file__).parent.parent / "data" / "samples"
KSMIN23 = SAMPLES / "ksmin23_animals_object_detection.manifest"

app = typer.Typer()
app.command("validate")(validate_command)


@app.command("version")
def _version() -> None:  # a second command, so that `validate` is a subcommand as in the CLI
    """Print nothing."""


def run(*args: str, stdin: bytes | None = None) -> Any:
    return CliRunner().invoke(app, ["validate", *args], input=stdin)


def image_line(ref: str, label: str = "cat", **extra: Any) -> bytes:
    meta = {
        "class-name": label,
        "confidence": 1,
        "type": "groundtruth/image-classification",
        "human-annotated": "yes",
        "creation-date": "2021-01-01T00:00:00",
    }
    return orjson.dumps({"source-ref": ref, "l": 1, "l-metadata": meta, **extra})


def write(tmp_path: Path, *lines: bytes) -> str:
    path = tmp_path / "change.manifest"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return str(path)


def test_clean_sample_is_accepted(tmp_path: Path) -> None:
    result = run(str(KSMIN23))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{KSMIN23}: 10 lines, 10 entries (10 labeled, 0 with errors), 0 dropped, 1 bucket(s)"
    )
    assert "  cat: 9 entries, 9 with boxes, 15 boxes" in lines
    assert lines[-1] == "result: accepted"


def test_problems_name_line_attribute_and_box(tmp_path: Path) -> None:
    good = image_line("s3://bucket/1.jpg")
    boxes = orjson.loads(
        (SAMPLES / "doc_examples_manifest_lines.jsonl").read_bytes().splitlines()[5]
    )
    path = write(
        tmp_path,
        good,
        orjson.dumps(boxes),
        b"{not json",
        image_line("s3://bucket/1.jpg"),
        *[image_line(f"s3://bucket/{i}.jpg") for i in range(2, 9)],
    )
    result = run(path)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[:6] == [
        f"{path}:2: ERROR_BOUNDING_BOX_TOO_SMALL The height and width of the bounding box is "
        "too small. [bounding-box box 0]",
        "    bounding-box.annotations[0] is 1 x 1 pixels: both sides must be more than 1 pixel",
        f"{path}:3: ERROR_INVALID_JSON_LINE The line is not valid JSON.",
        "    not JSON: unexpected character, expected a string key: line 1 column 2 (char 1)",
        f"{path}:4: ERROR_DUPLICATE_SOURCE_REF An earlier line of this change has the same "
        "source-ref.",
        '    source-ref "s3://bucket/1.jpg" is on an earlier line of this change: a change holds'
        " each image once, and its first line is kept",
    ]
    assert f"{path}: 11 lines, 9 entries (9 labeled, 1 with errors), 2 dropped, 1 bucket(s)" in out
    assert out[-1] == "result: accepted"  # 2 of 11 dropped: under 20%


def test_images_in_two_buckets_fail(tmp_path: Path) -> None:
    path = write(tmp_path, image_line("s3://bucket/1.jpg"), image_line("s3://other/2.jpg"))
    result = run(path)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-2:] == [
        "result: failed: ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS: The manifest file contains images "
        "from multiple S3 buckets.",
        "    images in 2 buckets (bucket, other): a dataset's images are in one bucket",
    ]


def test_strict_fails_on_line_errors_and_dropped_lines(tmp_path: Path) -> None:
    clean = [image_line(f"s3://bucket/{i}.jpg") for i in range(9)]
    with_error = write(tmp_path, *clean, image_line("s3://bucket/x.jpg", label=""))
    assert run(with_error).exit_code == 0
    strict = run(with_error, "--strict")
    assert strict.exit_code == 1
    assert strict.stdout.splitlines()[-2:] == [
        "result: accepted",
        "strict: lines with errors or dropped lines",
    ]
    with_drop = write(tmp_path, *clean, b"[]")
    assert run(with_drop).exit_code == 0
    assert run(with_drop, "--strict").exit_code == 1
    assert run(write(tmp_path, *clean), "--strict").exit_code == 0


def test_terminal_exit_code_1(tmp_path: Path) -> None:
    path = write(tmp_path, image_line("s3://bucket/1.jpg"), b"x", b"y")
    result = run(path)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-2:] == [
        "result: failed: ERROR_TOO_MANY_RECORDS_IN_ERROR: The manifest file has too many "
        "terminal errors.",
        "    2 of 3 lines dropped (67%): at most 20% of a change's lines may be",
    ]


def test_stdin(tmp_path: Path) -> None:
    result = run("-", stdin=KSMIN23.read_bytes())
    assert result.exit_code == 0
    assert result.stdout.startswith("<stdin>: 10 lines")
    empty = run("-", stdin=b"")
    assert empty.exit_code == 1
    assert "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT" in empty.stdout
    assert empty.stdout.endswith("    the change or manifest is empty (0 bytes)\n")
    a_path = run("-", stdin=b"train.manifest")
    assert a_path.stdout.endswith(
        '    no line of the 14 bytes read is a JSON object (it starts with "train.manifest"): a'
        " manifest is JSON Lines, one object per image\n"
    )


def test_json_report(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        image_line("s3://bucket/1.jpg"),
        image_line("s3://bucket/2.jpg", label="x" * 300),
        b"42",
    )
    result = run(path, "--format", "json")
    assert result.exit_code == 1  # 1 of 3 dropped
    report = json.loads(result.stdout)
    assert report["file"] == path and report["limits"] == "aws"
    assert report["problems"] == [
        {
            "line": 2,
            "kind": "error",
            "code": "ERROR_INVALID_LABEL_NAME_LENGTH",
            "message": "The label name length is invalid.",
            "detail": f'the label name "{"x" * 55}..." of l is 300 characters long: a label name'
            " has 1 to 255",
            "level": "metadata",
            "attribute": "l",
            "annotation_index": None,
        },
        {
            "line": 2,
            "kind": "error",
            "code": "ERROR_NO_VALID_LABEL_ATTRIBUTES",
            "message": "No valid label attributes found.",
            "detail": "every label attribute of the line has an error (l): see their errors",
            "level": "line",
            "attribute": None,
            "annotation_index": None,
        },
        {
            "line": 3,
            "kind": "dropped",
            "code": "ERROR_INVALID_JSON_LINE",
            "message": "The line is not a JSON object.",
            "detail": "the line is a number, not an object: each line is one JSON object",
            "excerpt": "42",
        },
    ]
    summary = report["summary"]
    assert (summary["lines"], summary["entries"], summary["dropped"]) == (3, 2, 1)
    assert summary["labels"] == [{"name": "cat", "entries": 1, "entries_with_boxes": 0, "boxes": 0}]
    assert summary["by_code"] == {
        "ERROR_INVALID_JSON_LINE": {"count": 1, "first_lines": [3]},
        "ERROR_INVALID_LABEL_NAME_LENGTH": {"count": 1, "first_lines": [2]},
        "ERROR_NO_VALID_LABEL_ATTRIBUTES": {"count": 1, "first_lines": [2]},
    }
    assert report["warnings"] == [
        "1 label(s) with fewer than 2 images (cat): each label needs an image to train on and"
        " one to test with"
    ]
    assert report["terminal"] == {
        "code": "ERROR_TOO_MANY_RECORDS_IN_ERROR",
        "message": "The manifest file has too many terminal errors.",
        "detail": "1 of 3 lines dropped (33%): at most 20% of a change's lines may be",
    }
    assert (report["accepted"], report["exit_code"]) == (False, 1)


def test_json_report_of_a_clean_file_with_strict() -> None:
    result = run(str(KSMIN23), "--format", "json", "--strict")
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["problems"] == [] and report["accepted"]
    assert report["terminal"] is None and report["summary"]["bucket_count"] == 1


def test_limits_profile(tmp_path: Path) -> None:
    lines = [image_line(f"s3://bucket/{i}.jpg", label=f"label-{i}") for i in range(251)]
    path = write(tmp_path, *lines)
    aws = run(path)
    assert aws.exit_code == 1
    assert aws.stdout.splitlines()[-2:] == [
        "result: failed: ERROR_MANIFEST_TOO_MANY_LABELS: The manifest file has too many labels.",
        "    the dataset would have 251 labels: at most 250",
    ]
    assert run(path, "--limits", "relaxed").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [["/nonexistent/x.manifest"], ["."], [], ["x", "--format", "xml"], ["x", "--limits", "gcp"]],
    ids=["missing", "directory", "no file", "bad format", "bad limits"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2


def test_unreadable_file_message() -> None:
    result = run("/nonexistent/x.manifest")
    assert "cannot read /nonexistent/x.manifest" in result.stderr
    assert result.stdout == ""


def test_module_entry_point(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "manifestdb.commands.validate"]
    accepted = subprocess.run([*command, str(KSMIN23)], capture_output=True, check=False)
    assert accepted.returncode == 0 and accepted.stdout.endswith(b"result: accepted\n")
    failed = subprocess.run([*command, "-"], input=b"\x00\x01", capture_output=True, check=False)
    assert failed.returncode == 1
    assert subprocess.run([*command, "/nonexistent"], capture_output=True).returncode == 2


def test_cli_starts_without_what_validate_does_not_use() -> None:
    """`manifestdb validate` starts fast: importing the CLI loads no label format, no
    AWS, database, HTTP or terminal library, and leaves the version to be looked up when asked."""
    heavy = ["boto3", "botocore", "sqlalchemy", "starlette", "PIL", "rich", "importlib.metadata"]
    heavy.append("manifestdb.manifest.formats")
    code = f"import sys, manifestdb.cli; print(sorted(set({heavy!r}) & set(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout == "[]\n"


def test_repeated_problems_are_counted_not_printed_a_hundred_times(tmp_path: Path) -> None:
    """Every line with the same problem: 5 printed, a count per code with its first lines, and
    --all prints every one."""
    lines = [image_line(f"s3://bucket/{i}.jpg", label="x" * 300) for i in range(100)]
    path = write(tmp_path, *lines)
    out = run(path).stdout.splitlines()
    printed = [line for line in out if ": ERROR_INVALID_LABEL_NAME_LENGTH " in line]
    assert [line.split(":")[1] for line in printed] == ["1", "2", "3", "4", "5"]
    assert "  ERROR_INVALID_LABEL_NAME_LENGTH: 100 (lines 1, 2, 3, 4, 5, ...)" in out
    assert "  ERROR_NO_VALID_LABEL_ATTRIBUTES: 100 (lines 1, 2, 3, 4, 5, ...)" in out
    assert "  (190 problems not printed above: --all prints every one)" in out
    everything = run(path, "--all").stdout
    assert everything.count(": ERROR_INVALID_LABEL_NAME_LENGTH ") == 100
    assert "not printed above" not in everything


def test_a_manifest_that_cannot_train_is_warned_about(tmp_path: Path) -> None:
    """A real classification manifest whose metadata lacks `confidence`: accepted (AWS keeps
    the lines), but no label is valid, and the report says so and which field is wrong."""
    no_confidence = [
        orjson.dumps(
            {
                "source-ref": f"s3://bucket/{i}.jpg",
                "l": 1,
                "l-metadata": {
                    "class-name": "cat",
                    "type": "groundtruth/image-classification",
                    "human-annotated": "yes",
                    "creation-date": "2021-01-01T00:00:00",
                },
            }
        )
        for i in range(4)
    ]
    result = run(write(tmp_path, *no_confidence))
    assert result.exit_code == 0  # AWS accepts the manifest: exit codes stay as documented
    out = result.stdout.splitlines()
    assert "    l-metadata.confidence is missing: it must be a number from 0 to 1" in out
    assert out[-3:] == [
        "warning: every one of the 4 entries has an error",
        "warning: no entry has a valid label: a dataset without labels cannot train",
        "result: accepted",
    ]
    assert "labels: 0" in out


def test_images_in_two_buckets_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, image_line("s3://bucket/1.jpg"), image_line("s3://other/2.jpg"))
    out = run(path).stdout.splitlines()
    assert "warning: images in 2 buckets (bucket, other): a dataset's images are in one" in out
