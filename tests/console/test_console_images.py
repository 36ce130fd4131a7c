"""The image service's parts in-process: why an object cannot be read, and the thumbnail cache's
cap."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from manifestdb import objects
from manifestdb.service.images import _os_reason, _reason, placeholder
from manifestdb.service.thumbnails import NotAnImage, ThumbnailCache, make_thumbnail


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("NoSuchKey", "not found in bucket b"),
        ("404", "not found in bucket b"),
        ("AccessDenied", "access denied"),
        ("403", "access denied"),
        ("SlowDown", "the object cannot be read"),
    ],
)
def test_an_s3_error_gives_the_reason_a_user_can_act_on(code: str, reason: str) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "x"}}, "GetObject")
    unreadable = objects.ObjectUnreadable(str(error), objects.reason_of(error))
    assert _reason("s3://b/k.jpg", unreadable) == reason


def test_a_local_file_error_gives_its_reason() -> None:
    assert _os_reason("s3://b/k.jpg", PermissionError()) == "access denied"
    assert _os_reason("s3://b/k.jpg", FileNotFoundError()) == "not found in bucket b"


def test_a_placeholder_escapes_what_it_shows() -> None:
    image = placeholder("s3://b/<script>.jpg", "not an image")
    assert b"<script>" not in image.body and b"&lt;script&gt;" in image.body
    assert image.problem == "not an image" and image.media_type == "image/svg+xml"


def test_bytes_that_are_no_image_are_refused() -> None:
    with pytest.raises(NotAnImage, match="not an image"):
        make_thumbnail(b"hello")


def test_the_cache_keeps_under_its_cap_dropping_the_oldest(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "PNG")
    cache = ThumbnailCache(tmp_path / "thumbs", cap_bytes=10_000)
    for index in range(30):
        cache.put(f"key{index}", bytes(1000))
        os.utime(tmp_path / "thumbs" / f"key{index}", (index, index))
    held = sorted(path.name for path in (tmp_path / "thumbs").iterdir())
    assert sum(path.stat().st_size for path in (tmp_path / "thumbs").iterdir()) <= 10_000
    assert "key29" in held and "key0" not in held
    assert cache.get("key29") == bytes(1000)
    assert ThumbnailCache(tmp_path / "none", 0).get("key29") is None
