"""Reading Ground Truth manifests: from any S3 endpoint through boto3, or from a local folder.

With `--local-buckets DIR`, the object `s3://B/K` is the file `DIR/B/K` (handy for air-gapped
use and tests); otherwise boto3 reads it from `--s3-endpoint-url` (AWS when unset) with the
standard AWS credential chain. Used by the service (to check a manifest at call time) and by the
jobs (to read it), so it raises its own `ObjectUnreadable`, which each translates.
"""

from __future__ import annotations

import enum
import errno
import os
from collections.abc import Generator
from functools import lru_cache
from pathlib import Path
from typing import Any

from manifestdb.config import Settings

CHUNK = 1024 * 1024


class Unreadable(enum.StrEnum):
    """Why an object cannot be read, for callers that answer each case differently."""

    MISSING = "missing"
    DENIED = "denied"
    OTHER = "other"


class ObjectUnreadable(Exception):
    """The object cannot be read; the message says why, in words fit for the caller."""

    def __init__(self, message: str, reason: Unreadable = Unreadable.OTHER) -> None:
        super().__init__(message)
        self.reason = reason


@lru_cache(maxsize=4)
def _s3_client(endpoint_url: str | None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=60),
    )


NAME_MAX = 255  # bytes in one component of a local file name (Linux's NAME_MAX)


def _local_path(settings: Settings, s3_object: dict[str, Any]) -> Path | None:
    """The file of `s3://B/K` under `--local-buckets`, or None when objects come from S3.

    A name that no file can have is refused here with the rule it breaks, before the file system
    sees it (a NUL, a component over 255 bytes, a path out of the bucket).
    """
    if settings.local_buckets is None:
        return None
    bucket, name = str(s3_object["Bucket"]), str(s3_object["Name"])
    where = _describe(s3_object)
    if "\x00" in bucket or "\x00" in name:
        raise ObjectUnreadable(
            f"Unable to get object metadata from S3: {where!r} holds a NUL character, which no "
            "object name under --local-buckets may hold."
        )
    for part in (bucket, *name.split("/")):
        size = len(part.encode("utf-8", "surrogateescape"))
        if size > NAME_MAX:
            raise ObjectUnreadable(
                f"Unable to get object metadata from S3: a part of {where} between slashes is "
                f"{size} bytes long; under --local-buckets each part of a name is a file name, "
                f"at most {NAME_MAX} bytes."
            )
    if bucket in ("", ".", ".."):
        raise ObjectUnreadable(
            f"Unable to get object metadata from S3: {where!r} names no bucket folder."
        )
    try:
        # The bucket's folder may be a link (to a disk of images); the object stays inside it.
        folder = (settings.local_buckets / bucket).resolve()
        path = (folder / name).resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop (Python 3.11)
        raise ObjectUnreadable(
            f"Unable to get object metadata from S3: {where} cannot be resolved under "
            f"--local-buckets ({_reason(error)})."
        ) from None
    if not path.is_relative_to(folder):
        raise ObjectUnreadable(
            f"Unable to get object metadata from S3: {where} leaves its bucket "
            "(a '..' or a link out of the bucket's folder).",
            Unreadable.DENIED,
        )
    return path


def _reason(error: BaseException) -> str:
    if isinstance(error, RuntimeError) or getattr(error, "errno", None) == errno.ELOOP:
        return "a symbolic link that loops"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return type(error).__name__


def _describe(s3_object: dict[str, Any]) -> str:
    return f"s3://{s3_object['Bucket']}/{s3_object['Name']}"


def s3_object_of(source_ref: str) -> dict[str, str] | None:
    """{"Bucket", "Name"} of an `s3://bucket/key` source-ref, or None for another form."""
    if not source_ref.startswith("s3://"):
        return None
    bucket, _, name = source_ref[5:].partition("/")
    return {"Bucket": bucket, "Name": name} if bucket and name else None


def check_s3_object(settings: Settings, s3_object: dict[str, Any]) -> int:
    """The object's size in bytes, or ObjectUnreadable when it cannot be read."""
    return stat_s3_object(settings, s3_object)[0]


def stat_s3_object(settings: Settings, s3_object: dict[str, Any]) -> tuple[int, str]:
    """The object's size in bytes and a tag that changes when the object does (its S3 ETag, or
    a local file's modification time), or ObjectUnreadable when it cannot be read."""
    path = _local_path(settings, s3_object)
    if path is not None:
        where = _describe(s3_object)
        try:
            if path.is_dir():
                raise ObjectUnreadable(
                    f"Unable to get object metadata from S3: {where} is a folder under "
                    "--local-buckets, not an object.",
                    Unreadable.MISSING,
                )
            if not path.is_file():
                raise ObjectUnreadable(
                    f"Unable to get object metadata from S3: {where} does not exist.",
                    Unreadable.MISSING,
                )
            with path.open("rb") as handle:  # readable now, not only present
                stat = os.fstat(handle.fileno())
        except PermissionError as error:
            raise ObjectUnreadable(
                f"Unable to get object metadata from S3: {where} cannot be read under "
                f"--local-buckets ({_reason(error)}).",
                Unreadable.DENIED,
            ) from None
        except OSError as error:
            raise ObjectUnreadable(
                f"Unable to get object metadata from S3: {where} cannot be read under "
                f"--local-buckets ({_reason(error)})."
            ) from None
        return stat.st_size, f"{stat.st_mtime_ns}-{stat.st_size}"
    from botocore.exceptions import BotoCoreError, ClientError

    extra = {"VersionId": s3_object["Version"]} if s3_object.get("Version") else {}
    try:
        head = _s3_client(settings.s3_endpoint_url).head_object(
            Bucket=s3_object["Bucket"], Key=s3_object["Name"], **extra
        )
    except (ClientError, BotoCoreError) as error:
        raise ObjectUnreadable(
            f"Unable to get object metadata from S3 for {_describe(s3_object)}: {error}. "
            "Check the bucket, the object name and that manifestdb can read it.",
            reason_of(error),
        ) from None
    return int(head["ContentLength"]), str(head.get("ETag", ""))


def reason_of(error: Exception) -> Unreadable:
    """What an S3 client error means for the reader: no such object, no access, or other."""
    response = getattr(error, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    if code in {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}:
        return Unreadable.MISSING
    if code in {"403", "AccessDenied", "Forbidden", "AllAccessDisabled"}:
        return Unreadable.DENIED
    return Unreadable.OTHER


def read_s3_object(settings: Settings, s3_object: dict[str, Any]) -> Generator[bytes, None, None]:
    """The object's bytes, a chunk at a time (memory stays flat for a 1 GB manifest)."""
    path = _local_path(settings, s3_object)
    if path is not None:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
        return
    extra = {"VersionId": s3_object["Version"]} if s3_object.get("Version") else {}
    body = _s3_client(settings.s3_endpoint_url).get_object(
        Bucket=s3_object["Bucket"], Key=s3_object["Name"], **extra
    )["Body"]
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


def write_s3_object(settings: Settings, bucket: str, name: str, data: bytes) -> None:
    """Write an object (a model's evaluation summary or manifest snapshot): the file
    `LOCAL_BUCKETS/B/K` under `--local-buckets` (its bucket folder must exist, as a bucket
    must), else a PutObject. Raises ObjectUnreadable, saying why it could not be written."""
    s3_object = {"Bucket": bucket, "Name": name}
    where = _describe(s3_object)
    path = _local_path(settings, s3_object)
    if path is not None:
        assert settings.local_buckets is not None
        if not (settings.local_buckets / bucket).is_dir():
            raise ObjectUnreadable(
                f"Cannot write {where}: the bucket {bucket} does not exist (no folder "
                f"{bucket} under --local-buckets).",
                Unreadable.MISSING,
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(data)
            os.replace(partial, path)
        except OSError as error:
            raise ObjectUnreadable(f"Cannot write {where}: {_reason(error)}.") from None
        return
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _s3_client(settings.s3_endpoint_url).put_object(Bucket=bucket, Key=name, Body=data)
    except ClientError as error:
        raise ObjectUnreadable(
            f"Cannot write {where}: {error.response.get('Error', {}).get('Message') or error}.",
            reason_of(error),
        ) from None
    except BotoCoreError as error:
        raise ObjectUnreadable(f"Cannot write {where}: {error}.") from None
