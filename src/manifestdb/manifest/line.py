"""Judges one manifest line: dropped, or an entry to store in its normalized form.

The stored form is the line re-serialized by orjson (compact, the user's keys in the user's
order), with the service's keys recomputed (see `marks` for where `errors`/`warnings` go) and
`"cl-metadata": {"is_labeled": ...}` as the last top-level key. Checks and their precedence:
`codes`; pair shapes and validity: `attributes`. A line without problems is recognized and
stored by a fast path (`fast`) that gives the same Entry; any other goes the general way.

Choices where the spec is silent:
- Blank means only spaces, tabs, CR, LF, VT and FF, at any length.
- The length limit counts characters (code points) of the line as given, surrounding whitespace
  included; bytes that are not UTF-8 count one character per replacement.
- JSON is what orjson reads and writes: numbers out of double range (`1e400`), lone surrogate
  escapes, and nesting deeper than orjson writes (~255 levels) make a line
  ERROR_INVALID_JSON_LINE; a duplicated key keeps its last value at its first
  position; numbers are written back in orjson's shortest form, and integers beyond 64 bits
  become floats (orjson reads them so).
- `source-ref` must be `s3://<bucket>/<key>`: the bucket as botocore's S3Bucket shape allows
  (3..255 of `A-Z a-z 0-9 . _ -`, since AWS's own samples use upper-case legacy names), the key
  1..1024 characters (S3ObjectName) but no NUL. The scheme is lower-case `s3://` only.
- A label attribute is a top-level key `<name>` (not `source-ref`, not itself ending in
  `-metadata`) with a top-level `<name>-metadata`, whatever the two values are.
  ERROR_NO_LABEL_ATTRIBUTES marks a `-metadata` key that is not such a companion, or an
  object-valued key that is neither (once per line, naming the first such key); other extra
  keys (strings, numbers, arrays) are user data, kept and not judged.
- Service keys (`cl-metadata`, `errors`, `warnings`, `cl-errors`) are dropped at the top level,
  in every object-valued top-level key, and in the object elements of its `annotations`.
- WARNING_UNANNOTATED_RECORD goes to lines with no label attribute pair and no
  ERROR_NO_LABEL_ATTRIBUTES, extra user keys or not.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from manifestdb.manifest import codes, details
from manifestdb.manifest.attributes import judge_pair
from manifestdb.manifest.fast import clean_entry
from manifestdb.manifest.marks import Marks, strip_service_keys
from manifestdb.manifest.types import AWS_LIMITS, Dropped, Entry, Limits

SOURCE_REF = "source-ref"
BLANK = " \t\r\n\x0b\x0c"
BLANK_BYTES = BLANK.encode()
_BLANK_BYTE_VALUES = frozenset(BLANK_BYTES)
EXCERPT_CHARS = 200
_METADATA_SUFFIX = "-metadata"
_BASE_END = -len(_METADATA_SUFFIX)
_S3 = "s3://"
_BUCKET = re.compile(r"[0-9A-Za-z._\-]{3,255}")
_MAX_KEY_CHARS = 1024
# ("s3://<bucket>/", bucket) of the last good source-ref: the lines of a change name one bucket
# (see check_line). Replaced whole, never changed: threads see one pair or another, both true.
_last_bucket = ("", "")


def check_line(
    raw: bytes | str, line_number: int, limits: Limits = AWS_LIMITS, store: bool = True
) -> Entry | Dropped | None:
    """Judge one line (without its newline): None when blank, else Dropped or an Entry.

    `store=False` leaves the Entry's `line` empty, for a caller that stores nothing: the line
    is judged the same (a line nested too deeply to be written is dropped all the same)."""
    if isinstance(raw, str):
        if not raw.strip(BLANK):
            return None
        if len(raw) > limits.max_line_chars:
            return too_long(raw, line_number, limits)
    else:
        # Most lines start with "{": look at the first byte before copying the line to strip it.
        if not raw or (raw[0] in _BLANK_BYTE_VALUES and not raw.strip(BLANK_BYTES)):
            return None
        # A byte count within the limit is a character count within it too; decode only if not.
        if len(raw) > limits.max_line_chars and _chars(raw) > limits.max_line_chars:
            return too_long(raw, line_number, limits)
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        if _not_utf8(raw):
            encoded = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
            return _dropped(raw, line_number, codes.LINE_NOT_UTF8, details.not_utf8(encoded))
        return _dropped(raw, line_number, codes.LINE_NOT_JSON, details.not_json(error))
    if type(parsed) is not dict:
        return _dropped(raw, line_number, codes.LINE_NOT_OBJECT, details.not_object(parsed))
    source_ref = parsed.get(SOURCE_REF)
    if type(source_ref) is not str:
        if source_ref is None and SOURCE_REF not in parsed:
            detail = details.missing_source_ref(parsed)
            return _dropped(raw, line_number, codes.SOURCE_REF_MISSING, detail)
        detail = details.source_ref_not_string(source_ref)
        return _dropped(raw, line_number, codes.SOURCE_REF_NOT_STRING, detail)
    if "\x00" in source_ref:  # no S3 object name holds one (S3 cannot list it in XML)
        return _bad_source_ref(raw, line_number, source_ref)
    # The lines of a change name one bucket: the previous good source-ref's `s3://<bucket>/`
    # leaves only the key's length to check (else `_bucket_of` parses it whole).
    prefix, bucket = _last_bucket
    if not (
        prefix
        and source_ref.startswith(prefix)
        and 0 < len(source_ref) - len(prefix) <= _MAX_KEY_CHARS
    ):
        found = _bucket_of(source_ref)
        if found is None:
            return _bad_source_ref(raw, line_number, source_ref)
        bucket = found
    try:
        entry = clean_entry(parsed, line_number, source_ref, bucket, limits, store)
        if entry is None:
            return _judge(parsed, line_number, source_ref, bucket, limits, store)
        return entry
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (255 levels)
        detail = "JSON values nest more than 255 levels deep: flatten the line"
        return _dropped(raw, line_number, codes.LINE_TOO_DEEP, detail)


def too_long(raw: bytes | str, line_number: int, limits: Limits) -> Dropped:
    """The Dropped for a line over the length limit (`raw` may be just its head)."""
    message = codes.LINE_TOO_LONG.message.format(limit=limits.max_line_chars)
    chars = len(raw) if isinstance(raw, str) else _chars(raw)
    detail = details.line_too_long(chars if chars > limits.max_line_chars else None, limits)
    return Dropped(line_number, codes.LINE_TOO_LONG.code, message, excerpt(raw), detail)


def excerpt(raw: bytes | str) -> str:
    """The first 200 characters of a line, as printable text."""
    if isinstance(raw, bytes):
        # 4 bytes per character at most: enough bytes for 200 whole characters.
        return raw[: EXCERPT_CHARS * 4 + 3].decode("utf-8", "replace")[:EXCERPT_CHARS]
    return raw[:EXCERPT_CHARS].encode("utf-8", "replace").decode("utf-8")


def _chars(raw: bytes) -> int:
    return len(raw.decode("utf-8", "replace"))


def _not_utf8(raw: bytes | str) -> bool:
    try:
        if isinstance(raw, bytes):
            raw.decode("utf-8")
        else:
            raw.encode("utf-8")
    except UnicodeError:
        return True
    return False


def _dropped(
    raw: bytes | str, line_number: int, reason: codes.DropReason, detail: str | None = None
) -> Dropped:
    return Dropped(line_number, reason.code, reason.message, excerpt(raw), detail)


def _bad_source_ref(raw: bytes | str, line_number: int, source_ref: str) -> Dropped:
    detail = details.source_ref_format(source_ref, _MAX_KEY_CHARS)
    return _dropped(raw, line_number, codes.SOURCE_REF_BAD_FORMAT, detail)


def _bucket_of(source_ref: str) -> str | None:
    """The bucket of an `s3://bucket/key` URL, or None when it is not one; remembered (for
    `check_line`) when it is.

    The bucket runs from the scheme to the first `/` (it cannot hold one) and the key, after
    it, has 1..1024 characters of any kind."""
    global _last_bucket
    if not source_ref.startswith(_S3):
        return None
    slash = source_ref.find("/", 5)
    if slash < 0 or not 0 < len(source_ref) - slash - 1 <= _MAX_KEY_CHARS:
        return None
    bucket = source_ref[5:slash]
    if _BUCKET.fullmatch(bucket) is None:
        return None
    _last_bucket = (source_ref[: slash + 1], bucket)
    return bucket


def _judge(
    line: dict[str, Any],
    line_number: int,
    source_ref: str,
    bucket: str,
    limits: Limits,
    store: bool = True,
) -> Entry:
    strip_service_keys(line)
    marks = Marks(line)
    pairs, stray = _scan_keys(line)
    if stray is not None:
        marks.line(codes.NO_LABEL_ATTRIBUTES, stray, detail=details.stray_key(stray, line))
    labels: dict[str, int] = {}
    any_valid = False
    for name in pairs:
        if judge_pair(name, line, marks, labels, limits):
            any_valid = True
    if pairs and not any_valid:
        marks.line(codes.NO_VALID_LABEL_ATTRIBUTES, detail=details.no_valid_label_attributes(pairs))
    elif not pairs and stray is None:
        marks.line(codes.UNANNOTATED_RECORD)
    marks.apply()
    is_labeled = bool(pairs)
    line["cl-metadata"] = {"is_labeled": is_labeled}
    # Written even when not stored: writing is how a line nested too deeply is found, and such
    # a line comes here, not through the fast path.
    text = orjson.dumps(line)
    return Entry(
        line_number=line_number,
        source_ref=source_ref,
        bucket=bucket,
        line=text.decode() if store else "",
        is_labeled=is_labeled,
        has_errors=marks.has_errors,
        labels=labels,
        problems=marks.problems,
    )


def _scan_keys(line: dict[str, Any]) -> tuple[list[str], str | None]:
    """The label attribute names in key order, and the first key that is a stray label part.

    Also drops service keys inside object values and their `annotations` elements (the box
    test spells out `codes.SERVICE_KEYS` inline: it runs for every box of every line).
    """
    pairs: list[str] = []
    stray: str | None = None
    for key, value in line.items():
        if type(value) is dict:
            strip_service_keys(value)
            annotations = value.get("annotations")
            if type(annotations) is list:
                for box in annotations:
                    if type(box) is dict and (
                        "errors" in box
                        or "warnings" in box
                        or "cl-errors" in box
                        or "cl-metadata" in box
                    ):
                        strip_service_keys(box)
        if key.endswith(_METADATA_SUFFIX):
            base = key[:_BASE_END]
            if base in line and base != SOURCE_REF and not base.endswith(_METADATA_SUFFIX):
                continue
            if stray is None:
                stray = key
        elif key != SOURCE_REF and key + _METADATA_SUFFIX in line:
            pairs.append(key)
        elif type(value) is dict and stray is None:
            stray = key
    return pairs, stray
