"""A folder tree with one sub-folder per label, as the AWS console imports it.

The name of the folder holding an image is its label.

Box convention: none; this form has image-level labels only.

Reading: a local folder, or an `s3://bucket/prefix/` listed with boto3. Every JPEG and PNG below
it (at any depth) is an image labeled with the name of the folder that holds it; files directly
in the root are unlabeled. Local images are named by their path under the root (`akita/1.jpg`;
with `--s3-prefix s3://bucket/dogs/` the source-ref is `s3://bucket/dogs/akita/1.jpg`), S3
images by their URL. Images come in name order; a file under two label folders is two images.

Writing copies each image into `<target>/<label>/<file name>` (a local folder or an `s3://`
prefix), once per label, from its local file or S3 object (S3 to S3 is a server-side copy).

Cannot carry: boxes (dropped, and counted as dropped), images without labels (skipped, and
counted), an image's own folder path (only its file name is kept: two images of one name under
one label is an error), labels that cannot be a folder name (`/`, `.`, `..`: an error).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from manifestdb.manifest.formats.images import ImageLocator, is_image_name
from manifestdb.manifest.formats.model import (
    FormatError,
    Image,
    Summary,
    is_s3,
    normal_s3_prefix,
    split_s3,
)


def read(source: str, *, locator: ImageLocator | None = None) -> Iterator[Image]:
    """The images of a label-per-folder tree, local or on S3."""
    if is_s3(source):
        yield from _read_s3(normal_s3_prefix(source), locator or ImageLocator())
        return
    root = Path(source)
    if not root.is_dir():
        raise FormatError(f"{source}: no such folder")
    for path in sorted(root.rglob("*")):
        if path.is_file() and is_image_name(path.name):
            relative = path.relative_to(root)
            image = Image(relative.as_posix())
            if len(relative.parts) > 1:
                image.add_label(relative.parent.name)
            yield image


def _read_s3(prefix: str, locator: ImageLocator) -> Iterator[Image]:
    bucket, key_prefix = split_s3(prefix)
    paginator = locator.s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=key_prefix):
        for item in page.get("Contents", []):
            key: str = item["Key"]
            if not is_image_name(key):
                continue
            image = Image(f"s3://{bucket}/{key}")
            relative = PurePosixPath(key[len(key_prefix) :])
            if len(relative.parts) > 1:
                image.add_label(relative.parent.name)
            yield image


def write(
    images: Iterable[Image],
    target: str,
    *,
    locator: ImageLocator | None = None,
    classes: Sequence[str] | None = None,
) -> Summary:
    """Copy every labeled image into one sub-folder of `target` per label."""
    locator = locator or ImageLocator()
    to_s3 = is_s3(target)
    destination = normal_s3_prefix(target) if to_s3 else target.rstrip("/") + "/"
    if not to_s3 and Path(target).exists() and not Path(target).is_dir():
        raise FormatError(f"{target} is a file; a folder tree is written to a folder")
    summary = Summary()
    written: dict[str, str] = {}
    for image in images:
        summary.dropped_boxes += len(image.boxes)
        if not image.labels:
            summary.skipped_images += 1
            continue
        name = PurePosixPath(image.source_ref.replace("\\", "/")).name
        for label in image.labels:
            if "/" in label or "\\" in label or label in (".", ".."):
                raise FormatError(f"label {label!r} cannot be a folder name")
            copy = f"{destination}{label}/{name}"
            if copy in written:
                raise FormatError(
                    f"images {written[copy]} and {image.source_ref} both go to {copy}"
                )
            written[copy] = image.source_ref
            _copy(image.source_ref, copy, locator)
        summary.images += 1
        summary.labels += len(image.labels)
    return summary


def _copy(ref: str, copy: str, locator: ImageLocator) -> None:
    """Copy image `ref` to `copy` (a local path or an S3 URL)."""
    local = locator.local_path(ref)
    if local is not None and not local.is_file():
        raise FormatError(f"cannot read image {ref}: no such file {local}")
    if is_s3(copy):
        bucket, key = split_s3(copy)
        if local is not None:
            locator.s3.upload_file(str(local), bucket, key)
        else:
            source_bucket, source_key = split_s3(ref)
            locator.s3.copy_object(
                Bucket=bucket, Key=key, CopySource={"Bucket": source_bucket, "Key": source_key}
            )
        return
    Path(copy).parent.mkdir(parents=True, exist_ok=True)
    if local is not None:
        shutil.copyfile(local, copy)
    else:
        source_bucket, source_key = split_s3(ref)
        locator.s3.download_file(source_bucket, source_key, copy)
