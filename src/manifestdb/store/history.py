"""Dataset history: each applied change is a version, and what it changed is kept as it was.

A version's before-images (`entry_history`) are written by the job that makes the change, in its
transaction, so history survives a crash exactly as the data does. Storage grows with the size
of the changes, never with the dataset: a version keeps only the entries it changed, and a
version into an empty dataset (a create) keeps none (`starts_empty`).

Reading the dataset as it was at version N needs, for each source-ref changed after N, its first
before-image after N: that is the entry at N (or its absence). Every other entry is as it is now
- unless a version after N started from an empty dataset, in which case nothing of today's
entries was there at N but what the before-images say. That set of before-images is an
`Overlay`; pages, label stats, diffs and reverts are all read through it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from manifestdb.store.records import LabelStats
from manifestdb.store.schema import dataset_versions, entry_history, labels
from manifestdb.store.sql import copy_rows, raw_rows
from manifestdb.store.stored import Stored, stored_entries

BATCH = 500
OVERLAYS_KEPT = 8  # overlays cached per process (each is immutable once read)
OVERLAY_ROWS_CACHED = 250_000  # a larger overlay is read again for each page
FILTERS_KEPT = 32  # filters whose matches an overlay keeps

_INSERT_HISTORY = (
    "INSERT INTO entry_history (dataset_id, source_ref, version, seq, line, labels, is_labeled, "
    "has_errors, bucket) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# PostgreSQL: the same rows by COPY (a pipelined INSERT each was a fifth of a revert).
_COPY_HISTORY = (
    "COPY entry_history (dataset_id, source_ref, version, seq, line, labels, is_labeled, "
    "has_errors, bucket) FROM STDIN"
)

# SQLite: the absences of the entries a version added under seqs it drew, in one statement at
# its close instead of a bound row each (the writer is alone, so every seq from its first new
# one on is its own). A source-ref the version already kept a row of keeps that one.
_INSERT_ADDED = (
    "INSERT OR IGNORE INTO entry_history (dataset_id, source_ref, version) "
    "SELECT dataset_id, source_ref, ? FROM entries WHERE seq >= ? AND dataset_id = ?"
)


@dataclass(frozen=True, slots=True)
class VersionStart:
    """Who makes the next version of a dataset, and by which job."""

    kind: str  # create | update | distribute | delete_entries | revert | restore
    caller: str  # the principal's ARN
    job_id: int | None
    now: float


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history a dataset keeps: the last `versions` versions and at most `bytes` of
    before-images (None: no limit). Older versions are folded into the oldest one kept."""

    versions: int | None = None
    bytes: int | None = None


@dataclass(frozen=True, slots=True)
class VersionRecord:
    dataset_id: int
    version: int
    kind: str
    created_at: float
    caller: str
    job_id: int | None
    starts_empty: bool
    changed: int
    history_bytes: int
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Before:
    """An entry as it was at some version: `line` None when it did not exist."""

    source_ref: str
    seq: int | None
    line: str | None
    labels: dict[str, int]
    is_labeled: bool
    has_errors: bool
    bucket: str | None

    @property
    def exists(self) -> bool:
        return self.line is not None


_VERSION_COLUMNS = (
    dataset_versions.c.dataset_id,
    dataset_versions.c.version,
    dataset_versions.c.kind,
    dataset_versions.c.created_at,
    dataset_versions.c.caller,
    dataset_versions.c.job_id,
    dataset_versions.c.starts_empty,
    dataset_versions.c.changed,
    dataset_versions.c.history_bytes,
    dataset_versions.c.summary,
)


def _version(row: Any) -> VersionRecord:
    return VersionRecord(
        dataset_id=row[0],
        version=row[1],
        kind=row[2],
        created_at=row[3],
        caller=row[4],
        job_id=row[5],
        starts_empty=bool(row[6]),
        changed=row[7],
        history_bytes=row[8],
        summary=orjson.loads(row[9]),
    )


def _before(row: Sequence[Any]) -> Before:
    ref, seq, line, labels_json, labeled, errors, bucket = row
    return Before(
        ref,
        seq,
        line,
        orjson.loads(labels_json) if labels_json else {},
        bool(labeled),
        bool(errors),
        bucket,
    )


# -- writing --------------------------------------------------------------------------------


class HistoryLog:
    """The before-images of one writer's change, as its dataset's next version."""

    def __init__(
        self,
        conn: Connection,
        dialect: str,
        dataset_id: int,
        start: VersionStart,
        *,
        starts_empty: bool,
        new_from: int | None = None,
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.dataset_id = dataset_id
        self.start = start
        self.starts_empty = starts_empty
        latest = conn.execute(
            select(func.max(dataset_versions.c.version)).where(
                dataset_versions.c.dataset_id == dataset_id
            )
        ).scalar()
        self.version = (latest if latest is not None else -1) + 1
        self._rows: list[tuple[Any, ...]] = []
        # SQLite: the first seq this version's writer draws; the entries it adds under seqs
        # from there on get their absences in one statement at `close` (`added`).
        self.new_from = new_from

    def before(self, old: Stored) -> None:
        """`old` was the entry before this version changed or removed it."""
        if self.starts_empty:
            return
        self._rows.append(
            (
                self.dataset_id,
                old.source_ref,
                self.version,
                old.seq,
                old.line,
                orjson.dumps(old.labels).decode(),
                old.is_labeled,
                old.has_errors,
                old.bucket,
            )
        )

    def absent(self, source_ref: str) -> None:
        """There was no entry of `source_ref` before this version added it."""
        if not self.starts_empty:
            self._rows.append(
                (self.dataset_id, source_ref, self.version, None, None, None, None, None, None)
            )

    def added(self, source_ref: str) -> None:
        """`source_ref` was added under a seq this version drew: absent before it. With
        `new_from` known, its row is written at `close`, with the others, by one statement."""
        if self.new_from is None:
            self.absent(source_ref)

    def flush(self) -> None:
        if not self._rows:
            return
        if self.dialect == "postgresql":
            copy_rows(self.conn, _COPY_HISTORY, self._rows)
        else:
            self.conn.exec_driver_sql(_INSERT_HISTORY, self._rows)
        self._rows = []

    def close(self, summary: dict[str, Any], retention: Retention) -> int:
        """Write the version row (its size counted from what was kept) and fold old history."""
        self.flush()
        if self.new_from is not None and not self.starts_empty:
            self.conn.exec_driver_sql(_INSERT_ADDED, (self.version, self.new_from, self.dataset_id))
        changed, size = self.conn.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(
                        func.length(entry_history.c.source_ref)
                        + func.coalesce(func.length(entry_history.c.line), 0)
                        + func.coalesce(func.length(entry_history.c.labels), 0)
                    ),
                    0,
                ),
            ).where(
                entry_history.c.dataset_id == self.dataset_id,
                entry_history.c.version == self.version,
            )
        ).one()
        self.conn.execute(
            insert(dataset_versions).values(
                dataset_id=self.dataset_id,
                version=self.version,
                kind=self.start.kind,
                created_at=self.start.now,
                caller=self.start.caller,
                job_id=self.start.job_id,
                starts_empty=self.starts_empty,
                changed=int(changed),
                history_bytes=int(size),
                summary=orjson.dumps(summary).decode(),
            )
        )
        fold_history(self.conn, self.dataset_id, retention)
        return self.version


def start_history(
    conn: Connection,
    dataset_id: int,
    *,
    kind: str,
    caller: str,
    now: float,
    summary: dict[str, Any],
) -> None:
    """Version 0 of a dataset: its start (created empty, or where history began)."""
    conn.execute(
        insert(dataset_versions).values(
            dataset_id=dataset_id,
            version=0,
            kind=kind,
            created_at=now,
            caller=caller,
            job_id=None,
            starts_empty=False,
            changed=0,
            history_bytes=0,
            summary=orjson.dumps(summary).decode(),
        )
    )


def fold_history(conn: Connection, dataset_id: int, retention: Retention) -> int | None:
    """Drop what `retention` does not keep: the versions before the oldest one kept, and the
    before-images that only reading those needed. The oldest version kept stays readable (its
    state), but can no longer be reverted on its own (`summary.folded`). The cut, if any."""
    if retention.versions is None and retention.bytes is None:
        return None
    rows = conn.execute(
        select(dataset_versions.c.version, dataset_versions.c.history_bytes)
        .where(dataset_versions.c.dataset_id == dataset_id)
        .order_by(dataset_versions.c.version.desc())
    ).all()
    cut: int | None = None
    if retention.versions is not None and len(rows) > retention.versions:
        cut = rows[max(retention.versions, 1) - 1][0]
    if retention.bytes is not None:
        kept = 0
        for version, size in rows:
            if kept + size > retention.bytes:
                cut = version if cut is None else max(cut, version)
                break
            kept += size
    oldest = rows[-1][0] if rows else None
    if cut is None or oldest is None:
        return None
    if cut == oldest and not rows[-1][1]:
        return None  # nothing older to fold, and no before-images of its own
    conn.execute(
        delete(entry_history).where(
            entry_history.c.dataset_id == dataset_id, entry_history.c.version <= cut
        )
    )
    conn.execute(
        delete(dataset_versions).where(
            dataset_versions.c.dataset_id == dataset_id, dataset_versions.c.version < cut
        )
    )
    summary = conn.execute(
        select(dataset_versions.c.summary).where(
            dataset_versions.c.dataset_id == dataset_id, dataset_versions.c.version == cut
        )
    ).scalar_one()
    conn.execute(
        update(dataset_versions)
        .where(dataset_versions.c.dataset_id == dataset_id, dataset_versions.c.version == cut)
        .values(
            summary=orjson.dumps(dict(orjson.loads(summary), folded=True)).decode(),
            history_bytes=0,
            changed=0,
        )
    )
    return cut


def delete_history(conn: Connection, dataset_id: int) -> None:
    for table in (entry_history, dataset_versions):
        conn.execute(delete(table).where(table.c.dataset_id == dataset_id))


# -- reading --------------------------------------------------------------------------------


@dataclass(slots=True)
class Overlay:
    """The dataset at `version`, as a difference from today (see the module's docstring)."""

    version: int
    base_empty: bool  # nothing of today's entries is there at `version`
    befores: dict[str, Before]  # every source-ref changed after `version`: its entry then
    current: dict[str, Stored] = field(default_factory=dict)  # today's entries of those
    existing: list[Before] = field(default_factory=list)  # the befores that exist, by seq
    hidden_seqs: frozenset[int] = frozenset()  # today's seqs that do not show at `version`
    hidden_share: float = 0.0  # hidden_seqs over today's entries
    # The `existing` that pass a filter, by filter (a client pages with the same filter).
    matching: dict[Any, tuple[list[int], list[Before]]] = field(default_factory=dict)

    def passing(self, filters: Any, test: Any) -> tuple[list[int], list[Before]]:
        """(seqs, befores) of `existing` for which `test(before)` holds, kept per filter."""
        found = self.matching.get(filters)
        if found is None:
            kept = [before for before in self.existing if test(before)]
            found = ([before.seq or 0 for before in kept], kept)
            if len(self.matching) >= FILTERS_KEPT:
                self.matching.clear()
            self.matching[filters] = found
        return found

    def size(self) -> int:
        return len(self.befores)


_overlays: OrderedDict[tuple[Any, ...], Overlay] = OrderedDict()
_overlays_lock = threading.Lock()


class HistoryQueries:
    conn: Connection
    dialect: str

    def version_record(self, dataset_id: int, version: int) -> VersionRecord | None:
        return self.version_and_bounds(dataset_id, version)[0]

    def version_and_bounds(
        self, dataset_id: int, version: int
    ) -> tuple[VersionRecord | None, tuple[int, int] | None]:
        """The dataset's version `version` (None if it has no such version) and its (oldest
        kept, latest) versions, in one statement: both are on every read of an old version,
        where SQLAlchemy's statement building, then a round trip each on PostgreSQL, cost more
        than the lookups."""
        columns = ", ".join(f"v.{column.name}" for column in _VERSION_COLUMNS)
        rows = raw_rows(
            self.conn,
            f"SELECT {columns}, b.low, b.high FROM (SELECT min(version) AS low, max(version) "
            "AS high FROM dataset_versions WHERE dataset_id = ?) b LEFT JOIN dataset_versions v "
            "ON v.dataset_id = ? AND v.version = ?",
            (dataset_id, dataset_id, version),
        )
        row = rows[0]
        low, high = row[-2:]
        bounds = None if low is None else (int(low), int(high))
        return (None if row[0] is None else _version(row), bounds)

    def version_page(self, dataset_id: int, before: int | None, limit: int) -> list[VersionRecord]:
        """Versions newest first, below `before` (keyset)."""
        query = (
            select(*_VERSION_COLUMNS)
            .where(dataset_versions.c.dataset_id == dataset_id)
            .order_by(dataset_versions.c.version.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(dataset_versions.c.version < before)
        return [_version(row) for row in self.conn.execute(query)]

    def start_history(
        self, dataset_id: int, *, kind: str, caller: str, now: float, summary: dict[str, Any]
    ) -> None:
        start_history(self.conn, dataset_id, kind=kind, caller=caller, now=now, summary=summary)

    def _first_empty_after(self, dataset_id: int, version: int) -> int | None:
        return self.conn.execute(
            select(func.min(dataset_versions.c.version)).where(
                dataset_versions.c.dataset_id == dataset_id,
                dataset_versions.c.version > version,
                dataset_versions.c.starts_empty == True,  # noqa: E712 (SQL, not Python)
            )
        ).scalar()

    def _history_rows(
        self, dataset_id: int, low: int, high: int | None, refs: Sequence[str] | None = None
    ) -> Iterable[tuple[Any, ...]]:
        """(source_ref, version, seq, line, labels, is_labeled, has_errors, bucket) of the
        versions in (low, high), of `refs` if given."""
        where = "dataset_id = ? AND version > ?"
        params: list[Any] = [dataset_id, low]
        if high is not None:
            where += " AND version < ?"
            params.append(high)
        columns = "source_ref, version, seq, line, labels, is_labeled, has_errors, bucket"
        if refs is None:
            yield from raw_rows(
                self.conn, f"SELECT {columns} FROM entry_history WHERE {where}", params
            )
            return
        for start in range(0, len(refs), BATCH):
            chunk = list(refs[start : start + BATCH])
            marks = ", ".join("?" for _ in chunk)
            yield from raw_rows(
                self.conn,
                f"SELECT {columns} FROM entry_history WHERE {where} AND source_ref IN ({marks})",
                (*params, *chunk),
            )

    def states_at(
        self, dataset_id: int, version: int, refs: Sequence[str] | None = None
    ) -> Overlay:
        """The overlay of `version`: of every source-ref changed after it, or of `refs` only
        (then `befores` also holds, for a ref not changed since, today's entry or its absence)."""
        empty_after = self._first_empty_after(dataset_id, version)
        firsts: dict[str, tuple[int, Before]] = {}
        for row in self._history_rows(dataset_id, version, empty_after, refs):
            ref, row_version = row[0], row[1]
            held = firsts.get(ref)
            if held is None or row_version < held[0]:
                firsts[ref] = (row_version, _before((ref, *row[2:])))
        overlay = Overlay(version, empty_after is not None, {r: b for r, (_, b) in firsts.items()})
        wanted = list(firsts) if refs is None else list(refs)
        for start in range(0, len(wanted), BATCH):
            for stored in stored_entries(
                self.conn, self.dialect, dataset_id, "source_ref", wanted[start : start + BATCH]
            ):
                overlay.current[stored.source_ref] = stored
        if refs is not None:  # the refs not changed after `version`: as today, or absent
            for ref in refs:
                if ref in overlay.befores:
                    continue
                today = overlay.current.get(ref)
                if today is None or overlay.base_empty:
                    overlay.befores[ref] = Before(ref, None, None, {}, False, False, None)
                else:
                    overlay.befores[ref] = Before(
                        ref,
                        today.seq,
                        today.line,
                        today.labels,
                        today.is_labeled,
                        today.has_errors,
                        today.bucket,
                    )
        overlay.existing = sorted(
            (before for before in overlay.befores.values() if before.exists),
            key=lambda before: before.seq or 0,
        )
        if overlay.base_empty:
            # Today's entries are all hidden at `version`: the list reads none of them.
            overlay.current = {}
        overlay.hidden_seqs = frozenset(stored.seq for stored in overlay.current.values())
        if overlay.hidden_seqs:
            total = raw_rows(
                self.conn, "SELECT total_entries FROM datasets WHERE id = ?", (dataset_id,)
            )[0][0]
            overlay.hidden_share = len(overlay.hidden_seqs) / max(1, total)
        return overlay

    def overlay(self, dataset_id: int, version: int, latest: int) -> Overlay:
        """`states_at(version)`, cached per process: history below `latest` never changes."""
        key = (str(self.conn.engine.url), dataset_id, version, latest)
        with _overlays_lock:
            found = _overlays.get(key)
            if found is not None:
                _overlays.move_to_end(key)
                return found
        overlay = self.states_at(dataset_id, version)
        if overlay.size() <= OVERLAY_ROWS_CACHED:
            with _overlays_lock:
                _overlays[key] = overlay
                while len(_overlays) > OVERLAYS_KEPT:
                    _overlays.popitem(last=False)
        return overlay

    def refs_changed(self, dataset_id: int, low: int, high: int) -> list[str]:
        """The source-refs versions low+1..high changed (with before-images)."""
        rows = raw_rows(
            self.conn,
            "SELECT DISTINCT source_ref FROM entry_history WHERE dataset_id = ? AND version > ? "
            "AND version <= ?",
            (dataset_id, low, high),
        )
        return sorted(row[0] for row in rows)

    def refs_changed_after(self, dataset_id: int, version: int, refs: Sequence[str]) -> list[str]:
        """Which of `refs` a version after `version` changed."""
        found = {row[0] for row in self._history_rows(dataset_id, version, None, refs)}
        return sorted(found)

    def version_befores(self, dataset_id: int, version: int) -> list[Before]:
        """The before-images `version` itself kept."""
        rows = raw_rows(
            self.conn,
            "SELECT source_ref, seq, line, labels, is_labeled, has_errors, bucket "
            "FROM entry_history WHERE dataset_id = ? AND version = ? ORDER BY source_ref",
            (dataset_id, version),
        )
        return [_before(row) for row in rows]

    def all_refs(self, dataset_id: int) -> list[str]:
        rows = raw_rows(
            self.conn, "SELECT source_ref FROM entries WHERE dataset_id = ?", (dataset_id,)
        )
        return sorted(row[0] for row in rows)

    def labels_at(self, overlay: Overlay, dataset_id: int) -> list[LabelStats]:
        """ListDatasetLabels' counters at the overlay's version, by label name."""
        counts: dict[str, list[int]] = {}
        if not overlay.base_empty:
            for label, entry_count, box_count in self.conn.execute(
                select(labels.c.label, labels.c.entry_count, labels.c.box_entry_count).where(
                    labels.c.dataset_id == dataset_id
                )
            ):
                counts[label] = [entry_count, box_count]
            for stored in overlay.current.values():
                for label, boxes in stored.labels.items():
                    count = counts.setdefault(label, [0, 0])
                    count[0] -= 1
                    count[1] -= boxes > 0
        for before in overlay.existing:
            for label, boxes in before.labels.items():
                count = counts.setdefault(label, [0, 0])
                count[0] += 1
                count[1] += boxes > 0
        return [
            LabelStats(label, entry_count, box_count)
            for label, (entry_count, box_count) in sorted(counts.items())
            if entry_count > 0
        ]
