"""Folder trees (local and S3, as the console imports) and `image,label` CSV files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

from manifestdb.manifest import Entry
from manifestdb.manifest.formats import FormatError, Image, csv, folders
from manifestdb.manifest.formats.images import ImageLocator

FOLDER_ROWS = [
    "image,label",
    "akita/dog1.png,akita",
    "akita/dog2.jpg,akita",
    "beagle/dog3.png,beagle",
    "loose.png,",
]


def test_folder_tree_to_csv(convert: Callable[..., Any], data: Path, tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    result = convert("--from", "folders", "--to", "csv", data / "folders", "-o", out)
    assert result.exit_code == 0, result.stderr
    # notes.txt is not an image; loose.png sits in the root: unlabeled.
    assert out.read_text().splitlines() == FOLDER_ROWS


def test_folder_tree_to_manifest(
    convert: Callable[..., Any],
    valid_manifest: Callable[[Path], list[Entry]],
    data: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "dogs.manifest"
    result = convert("--from", "folders", "--to", "manifest", data / "folders", "-o", out,
                     "--s3-prefix", "s3://bucket/dogs")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    entries = valid_manifest(out)
    assert [(e.source_ref, e.labels) for e in entries] == [
        ("s3://bucket/dogs/akita/dog1.png", {"akita": 0}),
        ("s3://bucket/dogs/akita/dog2.jpg", {"akita": 0}),
        ("s3://bucket/dogs/beagle/dog3.png", {"beagle": 0}),
        ("s3://bucket/dogs/loose.png", {}),
    ]


def test_csv_to_folder_tree_copies_each_image_per_label(
    convert: Callable[..., Any], data: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("street.png,outdoor\nstreet.png,city\ngray.png,sky\nunlabeled.png,\n")
    out = tmp_path / "tree"
    result = convert("--from", "csv", "--to", "folders", source, "-o", out,
                     "--images", data / "images")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "city/street.png",
        "outdoor/street.png",
        "sky/gray.png",
    ]
    assert (out / "sky" / "gray.png").read_bytes() == (data / "images" / "gray.png").read_bytes()
    assert "folders cannot carry images without labels: 1 skipped" in result.stderr


def test_boxes_do_not_become_folders(
    convert: Callable[..., Any], data: Path, tmp_path: Path
) -> None:
    result = convert("--from", "coco", "--to", "folders", data / "coco" / "instances.json",
                     "-o", tmp_path / "tree", "--images", data / "images")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in (tmp_path / "tree").iterdir()] == ["sky"]
    assert "folders cannot carry boxes: 5 dropped" in result.stderr


def test_a_label_that_cannot_be_a_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="label 'a/b' cannot be a folder name"):
        folders.write([Image("x.png", labels=["a/b"])], str(tmp_path))


@pytest.mark.usefixtures("aws_env")
def test_s3_folder_tree_reads_and_writes(
    convert: Callable[..., Any],
    valid_manifest: Callable[[Path], list[Entry]],
    data: Path,
    tmp_path: Path,
) -> None:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bucket")
        for path in sorted((data / "folders").rglob("*")):
            if path.is_file():
                key = "import/" + path.relative_to(data / "folders").as_posix()
                s3.put_object(Bucket="bucket", Key=key, Body=path.read_bytes())
        manifest = tmp_path / "s3.manifest"
        result = convert("--from", "folders", "--to", "manifest", "s3://bucket/import", "-o",
                         manifest)  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert [(e.source_ref, e.labels) for e in valid_manifest(manifest)] == [
            ("s3://bucket/import/akita/dog1.png", {"akita": 0}),
            ("s3://bucket/import/akita/dog2.jpg", {"akita": 0}),
            ("s3://bucket/import/beagle/dog3.png", {"beagle": 0}),
            ("s3://bucket/import/loose.png", {}),
        ]
        # S3 to S3 (a server-side copy) and S3 to a local folder.
        result = convert("--from", "manifest", "--to", "folders", manifest, "-o",
                         "s3://bucket/copy/")  # fmt: skip
        assert result.exit_code == 0, result.stderr
        listed = s3.list_objects_v2(Bucket="bucket", Prefix="copy/")["Contents"]
        assert [item["Key"] for item in listed] == [
            "copy/akita/dog1.png",
            "copy/akita/dog2.jpg",
            "copy/beagle/dog3.png",
        ]
        result = convert("--from", "manifest", "--to", "folders", manifest, "-o", tmp_path / "t")
        assert result.exit_code == 0, result.stderr
        assert (tmp_path / "t" / "beagle" / "dog3.png").read_bytes() == (
            data / "folders" / "beagle" / "dog3.png"
        ).read_bytes()
        # Local to S3.
        folders.write(
            [Image("gray.png", labels=["sky"])],
            "s3://bucket/up",
            locator=ImageLocator(data / "images", s3_client=s3),
        )
        assert s3.get_object(Bucket="bucket", Key="up/sky/gray.png")["ContentLength"] == 185


def test_csv_header_is_optional_and_adjacent_rows_are_one_image(data: Path, tmp_path: Path) -> None:
    with_header = list(csv.read(str(data / "csv" / "labels.csv")))
    source = tmp_path / "no_header.csv"
    source.write_text(
        "\ufeffstreet.png,outdoor\n street.png , car ,extra\n\ncat.jpg,cat\ngray.png\n"
        "images/x/y.png,sky\n"
    )
    assert (
        list(csv.read(str(source)))
        == with_header
        == [
            Image("street.png", labels=["outdoor", "car"]),
            Image("cat.jpg", labels=["cat"]),
            Image("gray.png"),
            Image("images/x/y.png", labels=["sky"]),
        ]
    )


def test_csv_rows_of_one_image_apart_are_an_error(tmp_path: Path) -> None:
    source = tmp_path / "apart.csv"
    source.write_text("a.jpg,cat\nb.jpg,dog\na.jpg,pet\n")
    with pytest.raises(FormatError, match=r"apart.csv:3: image a.jpg appeared on an earlier row"):
        list(csv.read(str(source)))


def test_csv_streams_from_stdin_to_stdout(convert: Callable[..., Any]) -> None:
    rows = "a.jpg,cat\na.jpg,pet\nb.jpg,\n"
    result = convert("--from", "csv", "--to", "manifest", "-", "-o", "-",
                     "--s3-prefix", "s3://b/p/", stdin=rows)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [line["source-ref"] for line in lines] == ["s3://b/p/a.jpg", "s3://b/p/b.jpg"]
    assert [lines[0][f"label-{i}-metadata"]["class-name"] for i in (0, 1)] == ["cat", "pet"]
    back = convert("--from", "manifest", "--to", "csv", "-", "-o", "-", stdin=result.stdout)
    assert back.stdout.splitlines() == [
        "image,label",
        "s3://b/p/a.jpg,cat",
        "s3://b/p/a.jpg,pet",
        "s3://b/p/b.jpg,",
    ]
