"""Image sizes from headers: local files, S3 with a ranged GET, and local copies of a bucket."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image as PILImage

from manifestdb.manifest.formats import FormatError, Image
from manifestdb.manifest.formats.images import HEADER_BYTES, ImageLocator


class Recorder:
    """An S3 client that notes the arguments of every `get_object`."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[dict[str, Any]] = []

    def get_object(self, **arguments: Any) -> Any:
        self.calls.append(arguments)
        return self.client.get_object(**arguments)


def test_local_sizes_and_depth(data: Path) -> None:
    locator = ImageLocator(data / "images")
    assert locator.size("street.png") == (640, 480, 3)
    assert locator.size("cat.jpg") == (300, 168, 3)
    assert locator.size("gray.png") == (200, 100, 1)
    image = locator.fill(Image("gray.png", depth=None))
    assert (image.width, image.height, image.depth) == (200, 100, 1)
    known = locator.fill(Image("missing.png", 64, 64))  # a known size is not read again
    assert (known.width, known.height) == (64, 64)


def test_unreadable_images_are_errors(data: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    locator = ImageLocator(tmp_path)
    with pytest.raises(
        FormatError, match=re.escape("cannot read the size of image bad.png: not a readable")
    ):
        locator.size("bad.png")
    with pytest.raises(
        FormatError, match=re.escape("cannot read the size of image none.png: No such file")
    ):
        locator.size("none.png")


@pytest.mark.usefixtures("aws_env")
def test_s3_sizes_read_the_first_64_kib_then_the_whole_object(data: Path) -> None:
    big_header = io.BytesIO()
    PILImage.new("RGB", (100, 70)).save(big_header, "JPEG", icc_profile=b"x" * 150_000)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bucket")
        s3.put_object(
            Bucket="bucket", Key="a/street.png", Body=(data / "images" / "street.png").read_bytes()
        )
        s3.put_object(Bucket="bucket", Key="a/big.jpg", Body=big_header.getvalue())
        s3.put_object(Bucket="bucket", Key="a/empty.jpg", Body=b"")
        recorder = Recorder(s3)
        locator = ImageLocator(s3_client=recorder)
        assert locator.size("s3://bucket/a/street.png") == (640, 480, 3)
        assert recorder.calls == [
            {"Bucket": "bucket", "Key": "a/street.png", "Range": f"bytes=0-{HEADER_BYTES - 1}"}
        ]
        recorder.calls.clear()
        # The header lies past 64 KiB (a large ICC profile): the whole object is read.
        assert locator.size("s3://bucket/a/big.jpg") == (100, 70, 3)
        assert [call.get("Range") for call in recorder.calls] == ["bytes=0-65535", None]
        with pytest.raises(FormatError, match=re.escape("empty.jpg: not a readable image")):
            locator.size("s3://bucket/a/empty.jpg")
        with pytest.raises(
            FormatError, match=re.escape("cannot read the size of image s3://bucket/a/no.jpg")
        ):
            locator.size("s3://bucket/a/no.jpg")


def test_urls_under_the_prefix_are_read_from_a_local_copy(data: Path) -> None:
    locator = ImageLocator(data, "s3://bucket/data", s3_client=object())  # S3 would fail
    assert locator.local_path("s3://bucket/data/images/street.png") == data / "images/street.png"
    assert locator.size("s3://bucket/data/images/street.png") == (640, 480, 3)
    assert locator.local_path("s3://bucket/data/images/absent.png") is None
    assert locator.local_path("s3://other/data/images/street.png") is None
