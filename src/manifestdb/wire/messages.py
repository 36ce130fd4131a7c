"""AWS's (Coral's) wording for requests it cannot deserialize or that break the model's rules.

Sources (see the wire tests): Athena and DynamoDB answers measured against AWS and published in
emulator test suites, AWS error messages quoted in SDK issues, and dynalite's Coral replica.
- SerializationException: `STRING_VALUE|NUMBER_VALUE|TRUE_VALUE|FALSE_VALUE can not be converted
  to an Integer|a String|a Boolean|...`, `Start of list found where not expected`, `Start of
  structure or map found where not expected.`, `Expected list or null`, `Expected map or null`,
  `Expected null` (a scalar where a structure belongs).
- ValidationException: `N validation error(s) detected: Value '<v>' at '<path>' failed to satisfy
  constraint: <phrase>; ...`, at most ten listed. `Value null` for a missing member, and no value at
  all (`Value at '<path>'`) where AWS shows none: an integer beyond its Java type, and (our
  choice: never echo megabytes) blobs and sensitive members. Paths are member names with a
  lower-case first letter, joined with dots; list items are `<list>.<1-based index>.member`.
"""

from __future__ import annotations

import re
from typing import Any

from manifestdb.service.errors import SerializationException, ValidationException

MAX_LISTED_ERRORS = 10  # AWS lists at most ten failures, and counts only those
MAX_SHOWN_CHARS = 256  # our choice: longer values are cut ("...") where AWS echoes them whole
NOT_NULL = "Member must not be null"

# What AWS calls each scalar shape in "... can not be converted to <this>".
TARGETS = {
    "string": "a String",
    "integer": "an Integer",
    "long": "a Long",
    "boolean": "a Boolean",
    "blob": "a Blob",
    "timestamp": "milliseconds since epoch",
    "float": "a Float",
    "double": "a Double",
}
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]|=[^=]")


# manifestdb's words after AWS's, for the failures a client is known to make (by path and
# phrase): what was received and what to send.
HINTS = {
    ("changes.groundTruth", "Member must have length greater than or equal to 1"): (
        "The change received is empty (0 bytes): send the manifest's JSON Lines as the bytes of"
        " Changes.GroundTruth. In R with paws, read the file as raw bytes:"
        ' Changes = list(GroundTruth = readBin(path, "raw", file.size(path))); a character'
        " string is not the change."
    ),
}


class Errors:
    """The constraint failures of one request, as AWS words them."""

    __slots__ = ("hints", "messages")

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.hints: list[str] = []

    def add(self, shown: str | None, path: str, phrase: str) -> None:
        """Record one failure; `shown` is the value as quoted in the message, None to omit it."""
        if len(self.messages) < MAX_LISTED_ERRORS:
            value = "Value" if shown is None else f"Value {shown}"
            self.messages.append(f"{value} at '{path}' failed to satisfy constraint: {phrase}")
            hint = HINTS.get((path, phrase))
            if hint is not None:
                self.hints.append(hint)

    def raise_if_any(self) -> None:
        count = len(self.messages)
        if count:
            plural = "s" if count > 1 else ""
            detail = "; ".join(self.messages)
            hints = (". " + " ".join(self.hints)) if self.hints else ""
            raise ValidationException(f"{count} validation error{plural} detected: {detail}{hints}")


def mismatch(value: Any, target: str) -> SerializationException:
    """The error for a JSON value that cannot be converted to a scalar shape (`target`)."""
    if type(value) in (dict, list):
        return container_mismatch(value, "")
    if type(value) is str:
        token = "STRING_VALUE"
    elif type(value) is bool:
        token = "TRUE_VALUE" if value else "FALSE_VALUE"
    else:
        token = "NUMBER_VALUE"
    return SerializationException(f"{token} can not be converted to {target}")


def container_mismatch(value: Any, scalar_message: str) -> SerializationException:
    """The error for a JSON value that is not the list, map or structure the shape wants."""
    if type(value) is list:
        return SerializationException("Start of list found where not expected")
    if type(value) is dict:
        return SerializationException("Start of structure or map found where not expected.")
    return SerializationException(scalar_message)


def base64_problem(value: str, path: str) -> SerializationException:
    """The error for text that is not strict base64; AWS's reasons, the value not echoed."""
    reason = "Invalid Base64 padding"
    if len(value) % 4:
        reason = f"Base64 encoded length is expected a multiple of 4 bytes but found: {len(value)}"
    elif (bad := _NOT_BASE64.search(value)) is not None:
        reason = f"Invalid Base64 character: {bad.group()[0]!r}"
    return SerializationException(f"Value at '{path}' can not be converted to a Blob: {reason}")


def shown(value: Any) -> str:
    """A value as AWS quotes it (Java's toString: `[a, b]`, `{k=v}`), cut to MAX_SHOWN_CHARS."""
    text = _java_text(value, MAX_SHOWN_CHARS + 1, 0)
    if len(text) > MAX_SHOWN_CHARS:
        text = text[:MAX_SHOWN_CHARS] + "..."
    return f"'{text}'"


def hidden(value: Any) -> None:
    """For values never shown in messages."""
    return None


def _java_text(value: Any, budget: int, depth: int) -> str:
    """`value` as Java prints it, stopping near `budget` characters and four levels down."""
    if type(value) is str:
        return value[:budget]
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) not in (list, dict):
        return str(value)[:budget]
    if depth >= 4:
        return "..."
    is_map = type(value) is dict
    parts: list[str] = []
    for item in value.items() if is_map else value:
        if budget <= 0:
            parts.append("...")
            break
        if is_map:
            part = f"{item[0][:budget]}={_java_text(item[1], budget, depth + 1)}"
        else:
            part = _java_text(item, budget, depth + 1)
        parts.append(part)
        budget -= len(part) + 2
    return ("{%s}" if is_map else "[%s]") % ", ".join(parts)
