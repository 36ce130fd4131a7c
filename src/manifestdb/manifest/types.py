"""The vocabulary of the manifest engine: what it says about each line and each change.

This module is the contract between `manifest/` (which judges lines) and its users (the update
runner in `jobs/`, the `validate` command). It holds data only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Level = Literal["line", "attribute", "metadata", "annotation"]


@dataclass(frozen=True, slots=True)
class Limits:
    """The numbers a change and a dataset are held to (`--limits aws` or `relaxed`)."""

    name: str = "aws"
    max_line_chars: int = 100_000
    max_label_name_chars: int = 255
    max_boxes_per_image: int = 50
    max_dropped_fraction: float = 0.2
    max_manifest_bytes: int = 1024**3
    max_manifest_lines: int | None = 250_000  # None: no cap (the byte size cap stays)
    max_change_bytes: int = 5 * 1024 * 1024
    max_entries_per_dataset: int | None = 250_000
    max_labels_per_dataset: int | None = 250


AWS_LIMITS = Limits()
RELAXED_LIMITS = Limits(
    name="relaxed",
    max_manifest_lines=None,
    max_entries_per_dataset=None,
    max_labels_per_dataset=None,
)
LIMIT_PROFILES: dict[str, Limits] = {"aws": AWS_LIMITS, "relaxed": RELAXED_LIMITS}


@dataclass(frozen=True, slots=True)
class Problem:
    """One error or warning written into a stored line, at the level it concerns."""

    code: str
    message: str
    level: Level
    warning: bool = False
    attribute: str | None = None  # the label attribute name, for attribute/metadata/annotation
    annotation_index: int | None = None  # position in `annotations`, for annotation level
    # What exactly is wrong (field, value found, rule): beside AWS's message, never in the
    # stored line (`manifest/details.py`).
    detail: str | None = None


@dataclass(slots=True)
class Entry:
    """A line that will be stored: the normalized JSON text and what the store indexes."""

    line_number: int
    source_ref: str
    bucket: str
    # Compact JSON, user's key order, errors/warnings inserted, cl-metadata last; "" when the
    # line was judged without being stored (`check_line(..., store=False)`).
    line: str
    is_labeled: bool
    has_errors: bool
    labels: dict[str, int]  # label name -> number of valid boxes with it (0: image-level only)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Dropped:
    """A line left out of the change (AWS's "terminal content error" for a line)."""

    line_number: int
    code: str
    message: str
    excerpt: str  # the first 200 characters of the line
    detail: str | None = None  # what exactly is wrong (`manifest/details.py`)


@dataclass(frozen=True, slots=True)
class Terminal:
    """An error that fails the whole change: nothing of it is stored."""

    code: str
    message: str

    @property
    def status_message(self) -> str:
        """The dataset's `StatusMessage` after the failure."""
        return f"{self.code}: {self.message}"
