"""The image service: an entry's image and thumbnail, read from the object its source-ref names.

Only an object that is the source-ref of an entry of the caller's dataset is ever read: the
caller names a dataset and a source-ref, and the source-ref must be an entry's, exactly. An object
that is missing, unreadable or not an image gives a placeholder (an SVG saying why), never an
error, so a page of thumbnails shows every entry.
"""

from __future__ import annotations

import hashlib
import html
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from manifestdb import objects
from manifestdb.objects import s3_object_of
from manifestdb.service.base import ServiceBase
from manifestdb.service.context import Caller
from manifestdb.service.errors import ResourceNotFoundException
from manifestdb.service.problems import ExplainedProblem, explain_line
from manifestdb.service.thumbnails import (
    NotAnImage,
    ThumbnailCache,
    image_media_type,
    make_thumbnail,
)

THUMBNAIL_MAX_BYTES = 64 * 1024 * 1024  # a larger object is not read whole for a thumbnail
SVG = "image/svg+xml"


@dataclass
class EntryImage:
    """An image answer: its bytes (or chunks), media type, ETag, and the placeholder's reason."""

    media_type: str
    body: bytes = b""
    chunks: Iterator[bytes] | None = None
    etag: str | None = None
    problem: str | None = None  # set when this is a placeholder


def placeholder(source_ref: str, reason: str, side: int = 256) -> EntryImage:
    """An SVG that says why the image of `source-ref` cannot be shown."""
    lines = [reason[i : i + 34] for i in range(0, min(len(reason), 136), 34)]
    text = "".join(
        f'<text x="50%" y="{44 + 9 * index}%" text-anchor="middle">{html.escape(line)}</text>'
        for index, line in enumerate(lines)
    )
    body = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side * 3 // 4}" '
        f'viewBox="0 0 {side} {side * 3 // 4}" role="img" aria-label="{html.escape(reason)}">'
        f"<title>{html.escape(source_ref)}: {html.escape(reason)}</title>"
        '<rect width="100%" height="100%" fill="#eceff1" stroke="#b0bec5"/>'
        '<g font-family="sans-serif" font-size="13" fill="#455a64">'
        '<text x="50%" y="28%" text-anchor="middle" font-size="30">⚠</text>'
        f"{text}</g></svg>"
    )
    return EntryImage(SVG, body.encode(), problem=reason)


def _reason(source_ref: str, error: objects.ObjectUnreadable) -> str:
    s3_object = s3_object_of(source_ref) or {"Bucket": "?"}
    if error.reason == objects.Unreadable.MISSING:
        return f"not found in bucket {s3_object['Bucket']}"
    if error.reason == objects.Unreadable.DENIED:
        return "access denied"
    return "the object cannot be read"


class ImageOperations(ServiceBase):
    """Entries by source-ref, and their images."""

    _thumbnails: ThumbnailCache | None = None

    def dataset_entry(self, caller: Caller, dataset_arn: str, source_ref: str) -> str:
        """The stored line of the dataset's entry with this source-ref, or ResourceNotFound."""
        with self.store.read(snapshot=False) as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn)
            line = tx.entry_line(dataset.id, source_ref)
        if line is None:
            raise ResourceNotFoundException(
                f"The dataset {dataset_arn} has no entry with source-ref {source_ref[:2048]!r}."
            )
        return line

    def dataset_entry_problems(
        self, caller: Caller, dataset_arn: str, source_ref: str
    ) -> tuple[str, list[ExplainedProblem]]:
        """The stored line of the entry and its problems, each with its detail (the line
        judged again: `service.problems`)."""
        line = self.dataset_entry(caller, dataset_arn, source_ref)
        return line, explain_line(line, self.settings.limits)

    @property
    def thumbnail_cache(self) -> ThumbnailCache:
        if self._thumbnails is None:
            self._thumbnails = ThumbnailCache(
                self.settings.data_dir / "thumbnails",
                self.settings.thumbnail_cache_mb * 1024 * 1024,
            )
        return self._thumbnails

    def entry_thumbnail(self, caller: Caller, dataset_arn: str, source_ref: str) -> EntryImage:
        """The entry's thumbnail (from the cache when its object has not changed)."""
        self.dataset_entry(caller, dataset_arn, source_ref)
        s3_object = s3_object_of(source_ref)
        if s3_object is None:
            return placeholder(source_ref, "the source-ref is not an s3:// object")
        try:
            size, version = objects.stat_s3_object(self.settings, s3_object)
            if size > THUMBNAIL_MAX_BYTES:
                return placeholder(source_ref, f"too large to show ({size // 2**20} MiB)")
            key = hashlib.sha256(f"{source_ref}\0{version}".encode()).hexdigest()[:40]
            cached = self.thumbnail_cache.get(key)
            if cached is not None:
                media_type = "image/png" if cached.startswith(b"\x89PNG") else "image/jpeg"
                return EntryImage(media_type, cached, etag=key)
            data = b"".join(objects.read_s3_object(self.settings, s3_object))
        except objects.ObjectUnreadable as error:
            return placeholder(source_ref, _reason(source_ref, error))
        except OSError as error:
            return placeholder(source_ref, _os_reason(source_ref, error))
        except (BotoCoreError, ClientError) as error:  # S3's errors while reading
            return placeholder(source_ref, _reason(source_ref, _unreadable(error)))
        try:
            thumbnail, media_type = make_thumbnail(data)
        except NotAnImage as error:
            return placeholder(source_ref, str(error))
        self.thumbnail_cache.put(key, thumbnail)
        return EntryImage(media_type, thumbnail, etag=key)

    def entry_image(self, caller: Caller, dataset_arn: str, source_ref: str) -> EntryImage:
        """The entry's whole image, streamed in chunks, or a placeholder."""
        self.dataset_entry(caller, dataset_arn, source_ref)
        s3_object = s3_object_of(source_ref)
        if s3_object is None:
            return placeholder(source_ref, "the source-ref is not an s3:// object", 640)
        try:
            _size, version = objects.stat_s3_object(self.settings, s3_object)
            chunks = objects.read_s3_object(self.settings, s3_object)
            head = next(chunks, b"")
        except objects.ObjectUnreadable as error:
            return placeholder(source_ref, _reason(source_ref, error), 640)
        except OSError as error:
            return placeholder(source_ref, _os_reason(source_ref, error), 640)
        except (BotoCoreError, ClientError) as error:
            return placeholder(source_ref, _reason(source_ref, _unreadable(error)), 640)
        try:
            media_type = image_media_type(head)
        except NotAnImage as error:
            chunks.close()
            return placeholder(source_ref, str(error), 640)
        etag = "i" + hashlib.sha256(f"{source_ref}\0{version}".encode()).hexdigest()[:40]
        return EntryImage(media_type, chunks=itertools.chain([head], chunks), etag=etag)


def _os_reason(source_ref: str, error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "access denied"
    if isinstance(error, FileNotFoundError | IsADirectoryError | NotADirectoryError):
        return _reason(source_ref, objects.ObjectUnreadable("", objects.Unreadable.MISSING))
    return "the object cannot be read"


def _unreadable(error: BotoCoreError | ClientError) -> objects.ObjectUnreadable:
    return objects.ObjectUnreadable(str(error), objects.reason_of(error))
