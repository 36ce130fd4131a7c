"""Operation results written as AWS JSON 1.1 response values, shaped by botocore's output shapes.

Results are keyed by the model's member names. `None` members are left out; timestamps
(aware datetimes, or epoch seconds) become epoch seconds with a fraction, to the millisecond as
AWS sends them; blobs become base64. Whatever needs no conversion (strings, numbers, booleans,
lists of them) is passed through untouched for orjson, which keeps the common case fast.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

Write = Callable[[Any], Any]


class OutputCompiler:
    """Builds, once per shape, the function that turns a result into JSON-ready values."""

    def __init__(self) -> None:
        self._writes: dict[str, Write | None] = {}

    def compile(self, shape: StructureShape | None) -> Write:
        """A writer for an operation's output; an operation without output writes `{}`."""
        if shape is None:
            return lambda result: {}
        write = self._build(shape)
        assert write is not None  # structures always have a writer
        return write

    def _build(self, shape: Shape) -> Write | None:
        """The writer of `shape`, or None when its values go to JSON as they are."""
        if shape.name in self._writes:
            return self._writes[shape.name]
        later: list[Write] = []  # a recursive shape refers to itself before it is built
        self._writes[shape.name] = lambda value: later[0](value)
        write: Write | None = None
        if isinstance(shape, StructureShape):
            write = self._structure(shape)
        elif isinstance(shape, ListShape):
            write = self._list(shape)
        elif isinstance(shape, MapShape):
            write = self._map(shape)
        elif shape.type_name == "timestamp":
            write = epoch_seconds
        elif shape.type_name == "blob":
            write = _base64
        if write is not None:
            later.append(write)
        self._writes[shape.name] = write
        return write

    def _structure(self, shape: StructureShape) -> Write:
        members = {
            name: (member.serialization.get("name", name), self._build(member))
            for name, member in shape.members.items()
        }

        def write(value: Mapping[str, Any]) -> dict[str, Any]:
            document: dict[str, Any] = {}
            for name, item in value.items():
                if item is None:
                    continue
                try:
                    key, member = members[name]
                except KeyError:
                    raise ValueError(f"{shape.name} has no member {name!r}") from None
                document[key] = item if member is None else member(item)
            return document

        return write

    def _list(self, shape: ListShape) -> Write | None:
        member = self._build(shape.member)
        if member is None:
            return None
        return lambda value: [member(item) for item in value]

    def _map(self, shape: MapShape) -> Write | None:
        member = self._build(shape.value)
        if member is None:
            return None
        return lambda value: {key: member(item) for key, item in value.items()}


def epoch_seconds(value: datetime | float) -> float:
    """A timestamp as AWS JSON sends it: epoch seconds, a float rounded to the millisecond."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give timestamps a time zone")
        return round(value.timestamp(), 3)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a timestamp must be a datetime or epoch seconds, not {value!r}")
    return round(float(value), 3)


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
