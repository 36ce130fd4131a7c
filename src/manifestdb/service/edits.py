"""Edits of entries (the console's): the lines they make, refused when a line changed meanwhile.

An edit names an entry by source-ref, carries the line exactly as the editor loaded it, and says
what to change (`manifest.edit.EntryEdit`). `edited_change` turns edits into the payload of one
UpdateDatasetEntries change; the caller sends it through `Service.call("UpdateDatasetEntries",
..., expected_lines=...)`, which checks again, in the transaction that queues the job, that every
line is still the one loaded. So an edit never overwrites a change it did not see.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from manifestdb import objects
from manifestdb.manifest.edit import Box, EditRefused, EntryEdit, clean_line, edited_line
from manifestdb.objects import s3_object_of
from manifestdb.service.base import ServiceBase
from manifestdb.service.context import Caller
from manifestdb.service.errors import (
    ConflictException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from manifestdb.service.thumbnails import NotAnImage, image_size

MAX_EDITS = 1000  # entries a save edits; the change must stay under 5 MiB as well
MAX_LABEL_CHARS = 256
_BOX_SIDES = ("Left", "Top", "Width", "Height")


@dataclass(frozen=True)
class LoadedEdit:
    """An edit of one entry and the line as its editor loaded it."""

    source_ref: str
    loaded: str
    edit: EntryEdit


@dataclass(frozen=True)
class EditedChange:
    """The change of a save: its JSON Lines, and the stored line each edit was made on."""

    payload: bytes
    expected_lines: dict[str, str]
    source_refs: list[str]  # the entries whose line changes


def read_edits(body: Any) -> list[LoadedEdit]:
    """The edits of a save's JSON body `{"Entries": [{"SourceRef", "Loaded", "AddLabels",
    "RemoveLabels", "Boxes": [{"Label", "Left", "Top", "Width", "Height", "Attribute"}]}]}`;
    `Boxes`, when given, is every box of the line, each in its bounding-box `Attribute`
    (omitted: the line's first)."""
    entries = body.get("Entries") if type(body) is dict else None
    if type(entries) is not list or not 1 <= len(entries) <= MAX_EDITS:
        raise InvalidParameterException(
            f'Send {{"Entries": [...]}} with 1 to {MAX_EDITS} edits, one per entry.'
        )
    edits = [_read_edit(item, index) for index, item in enumerate(entries)]
    refs = [edit.source_ref for edit in edits]
    if len(set(refs)) != len(refs):
        raise InvalidParameterException("Each entry may be edited once in a save.")
    return edits


def _read_edit(item: Any, index: int) -> LoadedEdit:
    where = f"Entries[{index}]"
    if type(item) is not dict:
        raise InvalidParameterException(f"{where} must be an object.")
    source_ref, loaded = item.get("SourceRef"), item.get("Loaded")
    if type(source_ref) is not str or type(loaded) is not str:
        raise InvalidParameterException(
            f"{where} needs SourceRef and Loaded (the line as the page loaded it), both strings."
        )
    add, remove = (
        _labels(item.get(name, []), f"{where}.{name}") for name in ("AddLabels", "RemoveLabels")
    )
    raw_boxes = item.get("Boxes")
    boxes = None
    if raw_boxes is not None:
        if type(raw_boxes) is not list:
            raise InvalidParameterException(f"{where}.Boxes must be a list of boxes.")
        boxes = tuple(_box(box, f"{where}.Boxes[{n}]") for n, box in enumerate(raw_boxes))
    return LoadedEdit(source_ref, loaded, EntryEdit(add, remove, boxes))


def _labels(value: Any, where: str) -> tuple[str, ...]:
    if type(value) is not list or not all(_is_label(label) for label in value):
        raise InvalidParameterException(
            f"{where} must be a list of label names, each 1 to {MAX_LABEL_CHARS} characters."
        )
    return tuple(value)


def _is_label(value: Any) -> bool:
    return type(value) is str and 0 < len(value) <= MAX_LABEL_CHARS and "\x00" not in value


def _box(value: Any, where: str) -> Box:
    if type(value) is not dict or not _is_label(value.get("Label")):
        raise InvalidParameterException(
            f"{where} needs a Label (1 to {MAX_LABEL_CHARS} characters)."
        )
    sides: list[Any] = [value.get(name) for name in _BOX_SIDES]
    if not all(type(side) in (int, float) and 0 <= side < 2**31 for side in sides):
        raise InvalidParameterException(
            f"{where} needs Left, Top, Width and Height: pixels, numbers of 0 or more."
        )
    attribute = value.get("Attribute")
    if attribute is not None and not _is_label(attribute):
        raise InvalidParameterException(
            f"{where}.Attribute is {orjson.dumps(attribute).decode()[:100]}: it must be the "
            f"name of a bounding-box attribute of the line, 1 to {MAX_LABEL_CHARS} characters, "
            "or absent."
        )
    left, top, width, height = (round(side) for side in sides)
    return Box(value["Label"], left, top, width, height, attribute)


class EditOperations(ServiceBase):
    """Edits of entries into an UpdateDatasetEntries change."""

    def edited_change(
        self, caller: Caller, dataset_arn: str, edits: list[LoadedEdit]
    ) -> EditedChange:
        """The change of `edits`, or ConflictException naming the lines that changed since."""
        with self.store.read() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn)
            stored = {edit.source_ref: tx.entry_line(dataset.id, edit.source_ref) for edit in edits}
        missing = [ref for ref, line in stored.items() if line is None]
        if missing:
            raise ResourceNotFoundException(
                f"The dataset has no entry with source-ref {missing[0][:2048]!r}."
            )
        refuse_changed(
            {ref: line for ref, line in stored.items() if line is not None},
            {edit.source_ref: edit.loaded for edit in edits},
        )
        lines: list[bytes] = []
        changed: list[str] = []
        for index, edit in enumerate(edits):
            old = orjson.loads(stored[edit.source_ref] or "{}")
            size = functools.partial(self._image_size, edit.source_ref)
            try:
                new = edited_line(old, edit.edit, size)
            except EditRefused as error:
                raise InvalidParameterException(f"Entries[{index}].{error}") from None
            if new != clean_line(old):
                lines.append(orjson.dumps(new))
                changed.append(edit.source_ref)
        return EditedChange(
            b"".join(line + b"\n" for line in lines),
            {ref: stored[ref] or "" for ref in changed},
            changed,
        )

    def _image_size(self, source_ref: str) -> tuple[int, int, int]:
        """The upright size of the entry's image, for the `image_size` of its first box."""
        s3_object = s3_object_of(source_ref)
        reason = "the source-ref is not an s3:// object"
        if s3_object is not None:
            try:
                return image_size(b"".join(objects.read_s3_object(self.settings, s3_object)))
            except objects.ObjectUnreadable as error:
                reason = str(error)
            except (OSError, BotoCoreError, ClientError) as error:
                reason = f"the object cannot be read ({error})"
            except NotAnImage as error:
                reason = str(error)
        raise InvalidParameterException(
            f"A box needs the size of the image, and the image of {source_ref} cannot be read: "
            f"{reason}. Fix the object (or the source-ref), then draw the box again."
        )


def refuse_changed(stored: Mapping[str, str | None], loaded: Mapping[str, str]) -> None:
    """ConflictException when a stored line is not the one loaded (nothing is saved then)."""
    changed = [ref for ref, line in loaded.items() if stored.get(ref) != line]
    if changed:
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        raise ConflictException(
            f"The entry {changed[0]}{more} changed since the page loaded it, so nothing was "
            "saved: the page shows the stored line now; make the edit again on it."
        )
