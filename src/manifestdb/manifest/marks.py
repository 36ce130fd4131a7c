"""Collects the errors and warnings of one line and writes them into the line's JSON objects.

Placement (manifestdb's choice, stable): each object that receives problems gets an `errors`
array and then a `warnings` array appended after its own keys, in the order the problems were
found; at the top level they come after the user's keys and before `cl-metadata`, which the
caller adds last. A problem whose object is not a JSON object (an image-level attribute is an
integer, a `-metadata` may be anything) moves to the nearest object that can hold it: an
attribute-level problem to its `-metadata` object, then to the line; a metadata-level problem to
the line. `Problem.level` says where the problem was actually written.
"""

from __future__ import annotations

from typing import Any

from manifestdb.manifest.codes import SERVICE_KEYS, Code
from manifestdb.manifest.types import Level, Problem

JsonObject = dict[str, Any]


def strip_service_keys(target: JsonObject) -> None:
    """Drop the keys the service computes, so a line sent back never piles them up."""
    for key in SERVICE_KEYS:
        if key in target:
            del target[key]


class Marks:
    """The problems of one line, grouped by the object that will hold them."""

    __slots__ = ("_line", "_line_codes", "_slots", "has_errors", "problems")

    def __init__(self, line: JsonObject) -> None:
        self._line = line
        # Created on the first problem: most lines have none.
        self._line_codes: set[tuple[str, str]] | None = None
        # id(object) -> [object, errors, warnings]; ids are stable while the line is alive.
        self._slots: dict[int, tuple[JsonObject, list[JsonObject], list[JsonObject]]] | None = None
        self.problems: list[Problem] = []
        self.has_errors = False

    def line(
        self, code: Code, attribute: str | None = None, name: str = "", detail: str | None = None
    ) -> None:
        """A line-level problem."""
        self._write(code, self._line, "line", attribute, None, name, detail)

    def attribute(
        self, code: Code, name: str, body: Any, meta: Any, detail: str | None = None
    ) -> None:
        """A problem of the label attribute `name` (body: its value, meta: its metadata)."""
        if type(body) is dict:
            self._write(code, body, "attribute", name, None, name, detail)
        else:
            self.metadata(code, name, meta, detail)

    def metadata(self, code: Code, name: str, meta: Any, detail: str | None = None) -> None:
        """A problem of the `-metadata` object of attribute `name`."""
        if type(meta) is dict:
            self._write(code, meta, "metadata", name, None, name, detail)
        else:
            self._write(code, self._line, "line", name, None, name, detail)

    def annotation(
        self, code: Code, name: str, box: JsonObject, index: int, detail: str | None = None
    ) -> None:
        """A problem of one element of `annotations` (always an object once shapes passed)."""
        self._write(code, box, "annotation", name, index, name, detail)

    def apply(self) -> None:
        """Write the collected arrays into their objects (after the objects' own keys)."""
        if self._slots is None:
            return
        for target, errors, warnings in self._slots.values():
            if errors:
                target["errors"] = errors
            if warnings:
                target["warnings"] = warnings

    def _write(
        self,
        code: Code,
        target: JsonObject,
        level: Level,
        attribute: str | None,
        index: int | None,
        name: str,
        detail: str | None,
    ) -> None:
        message = code.message(name)
        if target is self._line:
            # The same fact about the line is written once (e.g. two attributes with bad sizes).
            if self._line_codes is None:
                self._line_codes = set()
            elif (code.code, message) in self._line_codes:
                return
            self._line_codes.add((code.code, message))
        if self._slots is None:
            self._slots = {}
        slot = self._slots.get(id(target))
        if slot is None:
            slot = self._slots[id(target)] = (target, [], [])
        _, errors, warnings = slot
        (warnings if code.warning else errors).append({"code": code.code, "message": message})
        self.problems.append(
            Problem(code.code, message, level, code.warning, attribute, index, detail)
        )
        if not code.warning:
            self.has_errors = True
