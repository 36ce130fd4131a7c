"""Plain records the store hands to the service: no SQL objects leave the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class Conflict(Exception):
    """A row that would break a uniqueness rule (another process inserted it first)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    id: int
    account: str
    region: str
    name: str
    arn: str
    feature: str
    auto_update: str | None
    status: str
    created_at: float


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    id: int
    project_id: int
    account: str
    arn: str
    dataset_type: str
    status: str
    status_message: str
    status_message_code: str
    created_at: float
    updated_at: float
    total_entries: int
    labeled_entries: int
    error_entries: int
    total_labels: int


@dataclass(frozen=True, slots=True)
class LabelStats:
    label: str
    entry_count: int
    box_entry_count: int


class StoredEntry(Protocol):
    """What the store reads of an entry it writes: `manifest.Entry` is one, as the manifest
    engine judged it (the store never parses a line)."""

    @property
    def source_ref(self) -> str: ...
    @property
    def bucket(self) -> str: ...
    @property
    def line(self) -> str: ...  # the JSON text as stored and listed
    @property
    def labels(self) -> Mapping[str, int]: ...  # label name -> number of valid boxes with it
    @property
    def is_labeled(self) -> bool: ...
    @property
    def has_errors(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    dataset_id: int | None
    project_id: int | None
    kind: str
    params: dict[str, Any]
    payload: bytes | None
    attempts: int
    worker: str = ""  # who claimed it: with `attempts`, what fences a worker that lost its lease


@dataclass(slots=True)
class ApplyResult:
    """What merging entries into a dataset changed (for counters, limits and the report)."""

    added: int = 0
    replaced: int = 0
    removed: int = 0
    labels_added: list[str] = field(default_factory=list)
    labels_removed: list[str] = field(default_factory=list)
    total_entries: int = 0
    total_labels: int = 0
    bucket_count: int = 0
    buckets: list[str] = field(default_factory=list)  # their names, when more than one


@dataclass(frozen=True, slots=True)
class EntryPage:
    lines: list[str]
    last_seq: int | None  # the key to continue after, when there is a next page


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A console session: who logged in, in which region, its CSRF token and its lifetime."""

    token_hash: str
    access_key_id: str
    region: str
    csrf: str
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class ProjectVersionRecord:
    """A model (a project version); `details` holds what training wrote (evaluation, data
    results, manifest summary, the kind of model), `{}` before it ends."""

    id: int
    project_id: int
    name: str
    arn: str
    status: str
    status_message: str
    created_at: float
    training_end: float | None
    billable_seconds: int | None
    output_bucket: str
    output_prefix: str
    kms_key_id: str | None
    description: str | None
    min_units: int | None
    max_units: int | None
    details: dict[str, Any]
