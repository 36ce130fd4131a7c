"""Finds the image files behind `source_ref`s and reads their sizes from the image headers.

A relative path resolves under the dataset root (`--images`, else the input's folder). An
`s3://` URL under `--s3-prefix` resolves to the same relative path under the root when that file
exists there (a local copy of the bucket), else to the S3 object. Sizes come from Pillow reading
the header only: for S3 the first 64 KiB (a ranged GET), the whole object when the header lies
further in. The stored width and height are reported; an EXIF orientation is not applied.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from manifestdb.manifest.formats.model import (
    FormatError,
    Image,
    is_s3,
    normal_s3_prefix,
    split_s3,
)

HEADER_BYTES = 64 * 1024
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})  # what Rekognition Custom Labels reads


def is_image_name(name: str) -> bool:
    """True for a file name Rekognition would read as an image (JPEG or PNG)."""
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


class ImageLocator:
    """Resolves image references to local files or S3 objects and reads their sizes."""

    def __init__(
        self, root: Path | None = None, s3_prefix: str | None = None, s3_client: Any = None
    ) -> None:
        self.root = root
        self.s3_prefix = normal_s3_prefix(s3_prefix) if s3_prefix else None
        self._s3 = s3_client
        self._sizes: dict[str, tuple[int, int, int]] = {}

    @property
    def s3(self) -> Any:
        """A boto3 S3 client, made on first use from the standard AWS configuration."""
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3")
        return self._s3

    def local_path(self, ref: str) -> Path | None:
        """The local file for `ref`, or None when it is an S3 object with no local copy."""
        if is_s3(ref):
            if self.s3_prefix and self.root is not None and ref.startswith(self.s3_prefix):
                candidate = self.root / ref[len(self.s3_prefix) :]
                if candidate.is_file():
                    return candidate
            return None
        path = Path(ref)
        return path if path.is_absolute() or self.root is None else self.root / path

    def size(self, ref: str) -> tuple[int, int, int]:
        """The width, height and depth (bands) of the image `ref`, from its header."""
        cached = self._sizes.get(ref)
        if cached is None:
            cached = self._sizes[ref] = self._read_size(ref)
        return cached

    def fill(self, image: Image) -> Image:
        """Give `image` its width, height and depth from the file when it lacks them."""
        if image.width is None or image.height is None:
            image.width, image.height, depth = self.size(image.source_ref)
            if image.depth is None:
                image.depth = depth
        return image

    def dimensions(self, image: Image) -> tuple[int, int]:
        """The width and height of `image`, filled in from the file when it lacks them."""
        self.fill(image)
        if image.width is None or image.height is None:  # pragma: no cover - fill sets both
            raise FormatError(f"no size for image {image.source_ref}")
        return image.width, image.height

    def _read_size(self, ref: str) -> tuple[int, int, int]:
        path = self.local_path(ref)
        if path is not None:
            try:
                with open(path, "rb") as stream:
                    return _header_size(stream, ref)
            except OSError as error:
                raise FormatError(
                    f"cannot read the size of image {ref}: {error.strerror or error}"
                ) from None
        return self._read_s3_size(ref)

    def _read_s3_size(self, ref: str) -> tuple[int, int, int]:
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3(ref)
        try:
            try:
                head = self.s3.get_object(
                    Bucket=bucket, Key=key, Range=f"bytes=0-{HEADER_BYTES - 1}"
                )
                return _header_size(io.BytesIO(head["Body"].read()), ref)
            except FormatError:
                pass  # the header lies beyond the first bytes: read the whole object
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "InvalidRange":  # empty object
                    raise
            whole = self.s3.get_object(Bucket=bucket, Key=key)
            return _header_size(io.BytesIO(whole["Body"].read()), ref)
        except (BotoCoreError, ClientError) as error:
            raise FormatError(f"cannot read the size of image {ref}: {error}") from None


def _header_size(stream: IO[bytes], ref: str) -> tuple[int, int, int]:
    try:
        with PILImage.open(stream) as picture:
            width, height = picture.size
            return width, height, len(picture.getbands())
    except (UnidentifiedImageError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        raise FormatError(f"cannot read the size of image {ref}: not a readable image") from None
    except OSError as error:
        raise FormatError(f"cannot read the size of image {ref}: {error}") from None
