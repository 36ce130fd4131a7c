"""Thumbnails: made with Pillow (EXIF orientation applied) and kept in a size-capped disk cache.

The cache is a folder of files named by key (a digest of the source-ref and the object's version
tag), shared by every process that serves the same data directory. Past its cap the oldest files
go first, until it holds 90% of the cap. The running total is this process's estimate (other
processes' writes are counted at the next scan), which is enough for a cap.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

THUMBNAIL_SIDE = 256  # pixels on the long side
JPEG_QUALITY = 85
log = logging.getLogger("manifestdb")


class NotAnImage(Exception):
    """The bytes are not an image Pillow can read; the message says what is wrong."""


def make_thumbnail(data: bytes) -> tuple[bytes, str]:
    """A thumbnail of an image file (256 px on the long side) and its media type."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            out = io.BytesIO()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                image.save(out, "PNG", optimize=True)
                return out.getvalue(), "image/png"
            image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
            return out.getvalue(), "image/jpeg"
    except UnidentifiedImageError:
        raise NotAnImage("not an image") from None
    except Image.DecompressionBombError:
        raise NotAnImage("the image is too large to show") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise NotAnImage(f"not a readable image ({error})") from None


def image_media_type(head: bytes) -> str:
    """The media type of an image file from its first bytes, or NotAnImage."""
    try:
        with Image.open(io.BytesIO(head)) as opened:
            media_type = Image.MIME.get(opened.format or "")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise NotAnImage("not an image") from None
    if media_type is None:
        raise NotAnImage("not an image a browser can show")
    return media_type


class ThumbnailCache:
    """Thumbnail files under `directory`, at most `cap_bytes` of them (0: no cache)."""

    def __init__(self, directory: Path, cap_bytes: int) -> None:
        self.directory = directory
        self.cap_bytes = cap_bytes
        self._lock = threading.Lock()
        self._total: int | None = None  # bytes held, counted at the first write

    def get(self, key: str) -> bytes | None:
        if self.cap_bytes <= 0:
            return None
        path = self.directory / key
        try:
            data = path.read_bytes()
            os.utime(path)  # the oldest-used go first when the cache is full
        except OSError:
            return None
        return data

    def put(self, key: str, data: bytes) -> None:
        if self.cap_bytes <= 0 or len(data) > self.cap_bytes:
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, self.directory / key)
        except OSError as error:
            log.warning("thumbnail cache %s: cannot write (%s)", self.directory, error)
            return
        with self._lock:
            if self._total is None:
                self._total = self._scan_total()
            else:
                self._total += len(data)
            if self._total > self.cap_bytes:
                self._total = self._evict(int(self.cap_bytes * 0.9))

    def _files(self) -> list[tuple[float, int, Path]]:
        found = []
        for path in self.directory.iterdir():
            try:
                stat = path.stat()
            except OSError:
                continue
            found.append((stat.st_mtime, stat.st_size, path))
        return found

    def _scan_total(self) -> int:
        return sum(size for _, size, _ in self._files())

    def _evict(self, target: int) -> int:
        """Remove the oldest files until at most `target` bytes remain; the bytes left."""
        files = sorted(self._files())
        total = sum(size for _, size, _ in files)
        for _, size, path in files:
            if total <= target:
                break
            try:
                path.unlink()
            except OSError:
                continue
            total -= size
        return total


def image_size(data: bytes) -> tuple[int, int, int]:
    """(width, height, depth) of an image file, upright (EXIF orientation applied), or NotAnImage.

    Depth is the number of bands (3 for RGB), as Ground Truth's `image_size` writes it."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            orientation = opened.getexif().get(0x0112, 1)
            if orientation in (5, 6, 7, 8):  # rotated a quarter turn: upright, the sides swap
                width, height = height, width
            return width, height, len(opened.getbands())
    except UnidentifiedImageError:
        raise NotAnImage("not an image") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise NotAnImage(f"not a readable image ({error})") from None
