"""`manifestdb convert`: options, `--s3-prefix`, exit codes and messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from moto import mock_aws

from manifestdb.commands.convert import FORMAT_NAMES
from manifestdb.manifest.formats import FORMATS, FormatError, with_s3_prefix

Convert = Callable[..., Any]


@pytest.mark.parametrize(
    ("ref", "prefix", "source_ref"),
    [
        ("images/a.jpg", "s3://bucket/data/", "s3://bucket/data/images/a.jpg"),
        ("images/a.jpg", "s3://bucket/data", "s3://bucket/data/images/a.jpg"),
        ("./images\\a.jpg", "s3://bucket/", "s3://bucket/images/a.jpg"),
        ("a b+c.jpg", "s3://bucket/x/", "s3://bucket/x/a b+c.jpg"),
        ("s3://other/a.jpg", "s3://bucket/data/", "s3://other/a.jpg"),
    ],
)
def test_s3_prefix_makes_source_refs(ref: str, prefix: str, source_ref: str) -> None:
    assert with_s3_prefix(ref, prefix) == source_ref


@pytest.mark.parametrize(
    ("ref", "prefix", "message"),
    [
        ("/abs/a.jpg", "s3://bucket/", "not relative to the dataset folder"),
        ("../a.jpg", "s3://bucket/", "not relative to the dataset folder"),
        ("a.jpg", "bucket/data/", "is not an s3://bucket/key URL"),
        ("a.jpg", "s3:///data/", "is not an s3://bucket/key URL"),
    ],
)
def test_bad_s3_prefix_uses_are_errors(ref: str, prefix: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        with_s3_prefix(ref, prefix)


def test_success_reports_what_was_converted(convert: Convert, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.manifest"
    result = convert("--from", "CSV", "--to", "manifest", data / "csv" / "labels.csv", "-o", out,
                     "--s3-prefix", "s3://bucket/data/")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        f"converted 4 images (4 image-level labels, 0 boxes) from csv to groundtruth: {out}\n"
    )
    refs = [orjson.loads(line)["source-ref"] for line in out.read_bytes().splitlines()]
    assert refs == [
        "s3://bucket/data/street.png",
        "s3://bucket/data/cat.jpg",
        "s3://bucket/data/gray.png",
        "s3://bucket/data/images/x/y.png",
    ]


def _usage_errors(data: Path, tmp_path: Path) -> list[tuple[list[Any], str]]:
    csv, coco = data / "csv" / "labels.csv", data / "coco" / "instances.json"
    out = tmp_path / "out"
    return [
        (["--from", "jpeg", "--to", "csv", csv, "-o", out],
         "unknown format 'jpeg' for --from; choose one of groundtruth, multilabel, coco, yolo, "
         "voc, folders, csv"),
        (["--from", "csv", "--to", "tfrecord", csv, "-o", out],
         "unknown format 'tfrecord' for --to"),
        (["--from", "csv", "--to", "coco", tmp_path / "none.csv", "-o", out],
         f"cannot read {tmp_path / 'none.csv'}: no such file or folder"),
        (["--from", "csv", "--to", "coco", data, "-o", out],
         f"cannot read {data}: a folder; csv is read from a file"),
        (["--from", "yolo", "--to", "coco", "-", "-o", out],
         "yolo is read from a folder, not from stdin"),
        (["--from", "csv", "--to", "voc", csv, "-o", "-"],
         "voc is written to a folder, not to stdout"),
        (["--from", "coco", "--to", "csv", "s3://bucket/a.json", "-o", out],
         "coco is read from a local file or folder, not from S3"),
        (["--from", "csv", "--to", "yolo", csv, "-o", "s3://bucket/out/"],
         "yolo is written to a local file or folder, not to S3"),
        (["--from", "csv", "--to", "manifest", csv, "-o", out],
         "image 'street.png' has no s3:// URL: give --s3-prefix to make one"),
        (["--from", "csv", "--to", "manifest", csv, "-o", out, "--s3-prefix", "bucket/data"],
         "'bucket/data' is not an s3://bucket/key URL"),
        (["--from", "csv", "--to", "csv", csv, "-o", out, "--images", tmp_path / "nowhere"],
         f"--images {tmp_path / 'nowhere'}: no such folder"),
        (["--from", "coco", "--to", "yolo", coco, "-o", out, "--classes", data / "yolo/classes.txt",
          "--images", data / "images"],
         "image gray.png: label 'sky' is not in the class list"),
        (["--from", "csv", "--to", "csv", csv, "-o", out, "--classes", tmp_path / "none.txt"],
         f"cannot read --classes {tmp_path / 'none.txt'}: No such file or directory"),
        (["--from", "coco", "--to", "csv", data / "groundtruth" / "jufeng_vehicle_classification"
          ".manifest", "-o", out], "not JSON"),
        (["--from", "manifest", "--to", "csv", coco, "-o", out], "instances.json:1: not a JSON"),
        (["--from", "csv", "--to", "voc", csv, "-o", out],
         "cannot read the size of image street.png: No such file or directory"),
    ]  # fmt: skip


@pytest.mark.parametrize("case", range(16))
def test_errors_exit_2_with_a_message(
    case: int, convert: Convert, data: Path, tmp_path: Path
) -> None:
    arguments, message = _usage_errors(data, tmp_path)[case]
    result = convert(*arguments)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("manifestdb convert: ")
    assert message in result.stderr
    assert not (tmp_path / "out").is_file()  # a failed conversion leaves no half file


def test_a_missing_option_is_a_usage_error(convert: Convert, data: Path) -> None:
    result = convert("--from", "csv", data / "csv" / "labels.csv", "-o", "x")
    assert result.exit_code == 2
    assert "Missing option '--to'" in result.stderr


def test_duplicate_class_names_and_non_utf8_input(
    convert: Convert, data: Path, tmp_path: Path
) -> None:
    classes = tmp_path / "classes.txt"
    classes.write_text("cat\ndog\ncat\n")
    result = convert("--from", "csv", "--to", "csv", data / "csv" / "labels.csv", "-o",
                     tmp_path / "o.csv", "--classes", classes)  # fmt: skip
    assert (result.exit_code, result.stderr) == (
        2,
        "manifestdb convert: class list names 'cat' twice\n",
    )
    latin = tmp_path / "latin.csv"
    latin.write_bytes("caf\xe9.jpg,cat\n".encode("latin-1"))
    result = convert("--from", "csv", "--to", "csv", latin, "-o", tmp_path / "o.csv")
    assert result.exit_code == 2
    assert "latin.csv: not UTF-8 text" in result.stderr


@pytest.mark.usefixtures("aws_env")
def test_s3_errors_exit_2(convert: Convert, tmp_path: Path) -> None:
    with mock_aws():
        result = convert("--from", "folders", "--to", "csv", "s3://no-such-bucket/x/", "-o",
                         tmp_path / "o.csv")  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("manifestdb convert: S3: ")
    assert "NoSuchBucket" in result.stderr


def test_help_names_every_format() -> None:
    """The help lists the formats without importing them (they are slow to import)."""
    assert tuple(FORMATS) == FORMAT_NAMES
