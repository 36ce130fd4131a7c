"""Writing entries: upsert by source-ref, the label index and counters, in one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from manifestdb.store.history import HistoryLog, Retention, VersionStart
from manifestdb.store.label_bits import LabelBits
from manifestdb.store.records import ApplyResult, StoredEntry
from manifestdb.store.schema import buckets, datasets, entries, labels
from manifestdb.store.sql import adapt, copy_rows
from manifestdb.store.stored import Stored, stored_entries

BATCH = 500

# The hot statements run as driver-level executemany with tuples: building SQLAlchemy parameter
# dicts for ~40,000 rows per change cost a third of the write time.
_INSERT_ENTRY = (
    "INSERT INTO entries (seq, dataset_id, source_ref, bucket, line, labels, is_labeled, "
    "has_errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_COPY_ENTRIES = (
    "COPY entries (seq, dataset_id, source_ref, bucket, line, labels, is_labeled, has_errors) "
    "FROM STDIN"
)
# A replacement keeps its source-ref: leaving it out of SET spares the unique index a rewrite.
_UPDATE_ENTRY = (
    "UPDATE entries SET bucket = ?, line = ?, labels = ?, is_labeled = ?, has_errors = ? "
    "WHERE seq = ? AND dataset_id = ?"
)
# PostgreSQL: replacements by seq (a revert's, a restore's) go in by COPY into a temporary table
# and one UPDATE joined to it by the primary key: a pipelined UPDATE per row was a third of a
# revert of a 5 MiB change.
_CHANGED_TABLE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS changed_entries (bucket text, line text, labels text, "
    "is_labeled boolean, has_errors boolean, seq bigint) ON COMMIT DELETE ROWS"
)
_COPY_CHANGED = (
    "COPY changed_entries (bucket, line, labels, is_labeled, has_errors, seq) FROM STDIN"
)
_UPDATE_FROM_CHANGED = (
    "UPDATE entries e SET bucket = c.bucket, line = c.line, labels = c.labels, "
    "is_labeled = c.is_labeled, has_errors = c.has_errors "
    "FROM changed_entries c WHERE e.seq = c.seq AND e.dataset_id = %s"
)
# PostgreSQL: a batch goes in by COPY into a temporary table (one per connection, emptied after
# each use and at commit; `n` is an entry's place in its batch) and ONE statement then looks
# every source-ref up, rewrites the replaced rows found (by their ctid: no second index
# lookup) and draws seqs for the new ones, in batch order; the new rows follow by COPY. Three
# round trips a batch instead of five, no array parameter for psycopg to dump in Python, and
# each stored row visited once: ~10% of a 5 MiB change into 1,000,000 entries. The same
# statement keeps what it changes in `entry_history` (the old lines never leave the server).
_INCOMING_TABLE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_entries (n integer, source_ref text, "
    "bucket text, line text, labels text, is_labeled boolean, has_errors boolean) "
    "ON COMMIT DELETE ROWS"
)
_COPY_INCOMING = (
    "COPY incoming_entries (n, source_ref, bucket, line, labels, is_labeled, has_errors) FROM STDIN"
)
_MERGE_INCOMING = """\
WITH found AS MATERIALIZED (
    SELECT i.n, e.tid, e.seq, e.line = i.line AS same, e.labels, e.is_labeled, e.has_errors,
        e.bucket, i.bucket AS new_bucket, i.line AS new_line, i.labels AS new_labels,
        i.is_labeled AS new_is_labeled, i.has_errors AS new_has_errors, i.source_ref,
        e.line AS old_line
    FROM incoming_entries i LEFT JOIN LATERAL (
        SELECT ctid AS tid, seq, line, labels, is_labeled, has_errors, bucket FROM entries
        WHERE dataset_id = %s AND source_ref = i.source_ref OFFSET 0
    ) e ON true
), rewritten AS (
    UPDATE entries e SET bucket = f.new_bucket, line = f.new_line, labels = f.new_labels,
        is_labeled = f.new_is_labeled, has_errors = f.new_has_errors
    FROM found f WHERE e.ctid = f.tid AND NOT f.same
), kept AS (
    INSERT INTO entry_history (dataset_id, source_ref, version, seq, line, labels, is_labeled,
        has_errors, bucket)
    SELECT %s, f.source_ref, %s, f.seq, f.old_line, f.labels, f.is_labeled, f.has_errors, f.bucket
    FROM found f WHERE f.tid IS NULL OR NOT f.same
)
SELECT n, seq, same, labels, is_labeled, has_errors, bucket FROM found WHERE tid IS NOT NULL
UNION ALL
SELECT n, nextval('entry_seq'), NULL, NULL, NULL, NULL, NULL
FROM (SELECT n FROM found WHERE tid IS NULL ORDER BY n) AS fresh"""
# The merge joins only by index or ctid, whatever the planner estimates: the temporary table
# has no statistics and its dead rows (it is emptied with DELETE, not TRUNCATE: no catalog
# churn) made it look like thousands of rows, so the planner hashed it and scanned all of
# `entries` once per batch.
_BEFORE_MERGE = ("SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off")
_RESET_JOINS = ("RESET enable_hashjoin", "RESET enable_mergejoin")
_AFTER_MERGE = (*_RESET_JOINS, "DELETE FROM incoming_entries")
_FTS_INSERT = "INSERT INTO entries_fts(rowid, source_ref) VALUES (?, ?)"
_FTS_DELETE = "INSERT INTO entries_fts(entries_fts, rowid, source_ref) VALUES ('delete', ?, ?)"


def _stored_values(entry: StoredEntry) -> tuple[Any, ...]:
    """The columns an entry is stored with, in the order of the INSERT/UPDATE statements."""
    return (
        entry.source_ref,
        entry.bucket,
        entry.line,
        orjson.dumps(entry.labels).decode(),
        entry.is_labeled,
        entry.has_errors,
    )


class EntryWriter:
    """Merges entries into one dataset as its next version; `finish` writes the counters and
    `close_version` the version (one transaction)."""

    def __init__(
        self, conn: Connection, dialect: str, dataset_id: int, start: VersionStart
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.dataset_id = dataset_id
        if dialect == "sqlite":
            # One writer at a time: the next seqs follow the largest one.
            max_seq = conn.execute(select(func.max(entries.c.seq))).scalar()
            self.next_seq = (max_seq or 0) + 1
        # Into an empty dataset every entry is new (a change never holds a source-ref twice: the
        # engine drops duplicates), so a create looks nothing up.
        self.was_empty = not conn.execute(
            select(datasets.c.total_entries).where(datasets.c.id == dataset_id)
        ).scalar()
        # What the entries were before this writer changed them: the dataset's next version.
        self.history = HistoryLog(
            conn,
            dialect,
            dataset_id,
            start,
            starts_empty=self.was_empty,
            new_from=self.next_seq if dialect == "sqlite" else None,
        )
        self.label_bits = LabelBits(conn, dialect, dataset_id)
        self.label_delta: dict[str, list[int]] = {}
        self.bucket_delta: dict[str, int] = {}
        self.delta_total = self.delta_labeled = self.delta_errors = 0
        self.result = ApplyResult()
        # PostgreSQL: a merged batch not counted in yet (batch, merge rows, seqs of the new)
        self._unsettled: (
            tuple[Sequence[StoredEntry], list[tuple[Any, ...]], dict[int, int]] | None
        ) = None

    # -- adding and replacing ------------------------------------------------------------------

    def upsert(self, batch: Sequence[StoredEntry]) -> None:
        """Add each entry, or replace the stored line of its source-ref whole.

        A replacement writes only what differs: an identical line changes nothing, and only the
        labels that came or went touch the label index.
        """
        if self.dialect == "postgresql" and not self.was_empty:
            self._merge_by_copy(batch)
            return
        existing = {} if self.was_empty else self._existing([e.source_ref for e in batch])
        seqs = iter(self._new_seqs(sum(entry.source_ref not in existing for entry in batch)))
        new_rows: list[tuple[Any, ...]] = []
        changed_rows: list[tuple[Any, ...]] = []
        history = self.history
        for entry in batch:
            old = existing.get(entry.source_ref)
            if old is None:
                seq = next(seqs)
                self._added(entry, seq)
                new_rows.append((seq, self.dataset_id, *_stored_values(entry)))
                history.added(entry.source_ref)
            elif self._replaced(entry, old, old.line == entry.line):
                changed_rows.append((*_stored_values(entry)[1:], old.seq, self.dataset_id))
                history.before(old)
        if changed_rows:
            self._run(_UPDATE_ENTRY, changed_rows)
        if new_rows:
            self._insert(new_rows)
        history.flush()

    def remove(self, seqs: Sequence[int]) -> int:
        """Take entries out of the dataset (DistributeDatasetEntries moves them, a deletion
        deletes them); how many there were."""
        self._settle()
        removed = 0
        for start in range(0, len(seqs), BATCH):
            removed += self._remove(
                stored_entries(
                    self.conn, self.dialect, self.dataset_id, "seq", seqs[start : start + BATCH]
                )
            )
        return removed

    def remove_refs(self, source_refs: Sequence[str]) -> int:
        """Take the entries of these source-refs out; how many of them there were."""
        self._settle()
        removed = 0
        for start in range(0, len(source_refs), BATCH):
            removed += self._remove(
                stored_entries(
                    self.conn,
                    self.dialect,
                    self.dataset_id,
                    "source_ref",
                    source_refs[start : start + BATCH],
                )
            )
        return removed

    def put(self, targets: Sequence[tuple[str, int | None, StoredEntry | None]]) -> None:
        """Make each (source-ref, seq, entry) what it says: the entry, kept under the seq it
        had (a revert gives an entry back its place), or, where `entry` is None, no entry."""
        self._settle()
        for start in range(0, len(targets), BATCH):
            batch = targets[start : start + BATCH]
            existing = self._existing([ref for ref, _, _ in batch])
            gone: list[Stored] = []
            new_rows: list[tuple[Any, ...]] = []
            changed_rows: list[tuple[Any, ...]] = []
            for ref, seq, entry in batch:
                old = existing.get(ref)
                if entry is None:
                    if old is not None:
                        gone.append(old)
                elif old is None:
                    assert seq is not None, f"{ref}: an entry to restore needs its seq"
                    self._added(entry, seq)
                    new_rows.append((seq, self.dataset_id, *_stored_values(entry)))
                    self.history.absent(ref)
                elif self._replaced(entry, old, old.line == entry.line):
                    changed_rows.append((*_stored_values(entry)[1:], old.seq, self.dataset_id))
                    self.history.before(old)
            self._remove(gone)
            if changed_rows:
                self._rewrite(changed_rows)
            if new_rows:
                self._insert(new_rows)
            self.history.flush()

    def close_version(self, summary: dict[str, Any], retention: Retention) -> int:
        """Record this writer's change as the dataset's next version (with `summary`, the
        counts of its report), and fold history older than `retention` keeps; its number."""
        self._settle()
        stats = self.conn.execute(
            select(
                datasets.c.total_entries,
                datasets.c.labeled_entries,
                datasets.c.error_entries,
                datasets.c.total_labels,
            ).where(datasets.c.id == self.dataset_id)
        ).one()
        return self.history.close(
            dict(
                summary,
                total_entries=stats[0],
                labeled_entries=stats[1],
                error_entries=stats[2],
                total_labels=stats[3],
            ),
            retention,
        )

    def finish(self) -> ApplyResult:
        """Write the label index and the label, bucket and dataset counters; say what the
        dataset holds now."""
        self._settle()
        self.label_bits.flush()
        self._apply_label_delta()
        self._apply_bucket_delta()
        before = self.conn.execute(
            select(datasets.c.total_entries, datasets.c.total_labels).where(
                datasets.c.id == self.dataset_id
            )
        ).one()
        label_shift = len(self.result.labels_added) - len(self.result.labels_removed)
        self.conn.execute(
            update(datasets)
            .where(datasets.c.id == self.dataset_id)
            .values(
                total_entries=datasets.c.total_entries + self.delta_total,
                labeled_entries=datasets.c.labeled_entries + self.delta_labeled,
                error_entries=datasets.c.error_entries + self.delta_errors,
                total_labels=datasets.c.total_labels + label_shift,
            )
        )
        self.result.total_entries = before.total_entries + self.delta_total
        self.result.total_labels = before.total_labels + label_shift
        self.result.bucket_count = int(
            self.conn.execute(
                select(func.count())
                .select_from(buckets)
                .where(buckets.c.dataset_id == self.dataset_id)
            ).scalar_one()
        )
        if self.result.bucket_count > 1:  # the names, for the message of the terminal error
            self.result.buckets = list(
                self.conn.execute(
                    select(buckets.c.bucket)
                    .where(buckets.c.dataset_id == self.dataset_id)
                    .order_by(buckets.c.bucket)
                    .limit(6)
                ).scalars()
            )
        return self.result

    # -- helpers -------------------------------------------------------------------------------

    def _remove(self, olds: Sequence[Stored]) -> int:
        for old in olds:
            self._count_out(old)
            self.delta_total -= 1
            self.label_bits.remove(old.labels, old.seq)
            self.history.before(old)
        if not olds:
            return 0
        if self.dialect == "sqlite":
            self.conn.exec_driver_sql(_FTS_DELETE, [(old.seq, old.source_ref) for old in olds])
        self.conn.execute(delete(entries).where(entries.c.seq.in_([old.seq for old in olds])))
        self.history.flush()
        self.result.removed += len(olds)
        return len(olds)

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        if self.dialect == "sqlite":
            self._run(_INSERT_ENTRY, rows)
            self.conn.exec_driver_sql(_FTS_INSERT, [(row[0], row[2]) for row in rows])
        else:
            self._copy(_COPY_ENTRIES, rows)

    def _added(self, entry: StoredEntry, seq: int) -> None:
        """Count a new entry in."""
        self.label_bits.add(entry.labels, seq)
        self.delta_total += 1
        self.result.added += 1
        self._count_in(entry)

    def _replaced(self, entry: StoredEntry, old: Stored, same: bool) -> bool:
        """Count a replacement; whether its row must be rewritten (an identical line is not)."""
        self.result.replaced += 1
        if same:
            return False
        self._count_out(old)
        self._count_in(entry)
        old_labels = old.labels
        self.label_bits.add([label for label in entry.labels if label not in old_labels], old.seq)
        self.label_bits.remove(
            [label for label in old_labels if label not in entry.labels], old.seq
        )
        return True

    def _merge_by_copy(self, batch: Sequence[StoredEntry]) -> None:
        """PostgreSQL, into a dataset that holds entries: see `_MERGE_INCOMING`.

        The statements around the merge go in one pipeline (psycopg's pipeline mode: sent
        together, no round trip each), and while PostgreSQL runs them this thread counts the
        previous batch in (label bits, counters: `_settle`), which before waited its turn:
        ~10% of a change into 1,000,000 entries. New entries go in by COPY, one stream instead
        of a statement per row (each parsed and planned anew: statements are not prepared, see
        `create_database_engine`)."""
        self.conn.exec_driver_sql(_INCOMING_TABLE)
        self._copy(
            _COPY_INCOMING,
            [
                (
                    n,
                    e.source_ref,
                    e.bucket,
                    e.line,
                    orjson.dumps(e.labels).decode(),
                    e.is_labeled,
                    e.has_errors,
                )
                for n, e in enumerate(batch)
            ],
        )
        dbapi: Any = self.conn.connection.dbapi_connection
        # Pipeline mode needs libpq 14 (psycopg[binary] brings 17); without it, one at a time.
        pipeline = dbapi.pipeline() if psycopg.Pipeline.is_supported() else nullcontext()
        with pipeline, dbapi.cursor() as around, dbapi.cursor() as merge:
            for statement in _BEFORE_MERGE:
                around.execute(statement)
            merge.execute(
                _MERGE_INCOMING,
                (int(self.dataset_id), int(self.dataset_id), self.history.version),
            )
            for statement in _AFTER_MERGE:
                around.execute(statement)
            self._settle()
            found: list[tuple[Any, ...]] = merge.fetchall()
        fresh = sorted(row[0] for row in found if row[2] is None)
        # Seqs were drawn in batch order; sorted both ways, whatever order the rows came in.
        seqs = dict(zip(fresh, sorted(row[1] for row in found if row[2] is None), strict=True))
        if fresh:
            self._copy(
                _COPY_ENTRIES,
                [(seqs[n], self.dataset_id, *_stored_values(batch[n])) for n in fresh],
            )
        self._unsettled = (batch, found, seqs)

    def _settle(self) -> None:
        """Count in the last merged batch (see `_merge_by_copy`)."""
        if self._unsettled is None:
            return
        batch, found, seqs = self._unsettled
        self._unsettled = None
        loads = orjson.loads
        for n, seq, same, stored_labels, is_labeled, has_errors, bucket in found:
            entry = batch[n]
            if same is None:
                self._added(entry, seqs[n])
                continue
            # (its line is not read back: the statement compared it)
            old = Stored(
                seq, entry.source_ref, "", loads(stored_labels), is_labeled, has_errors, bucket
            )
            self._replaced(entry, old, same)

    def _copy(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        copy_rows(self.conn, sql, rows)

    def _rewrite(self, rows: list[tuple[Any, ...]]) -> None:
        """Rewrite stored rows by seq: (bucket, line, labels, is_labeled, has_errors, seq,
        dataset_id) each, as `_UPDATE_ENTRY` takes them."""
        if self.dialect != "postgresql":
            self._run(_UPDATE_ENTRY, rows)
            return
        self.conn.exec_driver_sql(_CHANGED_TABLE)
        self._copy(_COPY_CHANGED, [row[:-1] for row in rows])
        # By the primary key, whatever the estimates of a table without statistics.
        for statement in _BEFORE_MERGE:
            self.conn.exec_driver_sql(statement)
        self.conn.exec_driver_sql(_UPDATE_FROM_CHANGED, (int(self.dataset_id),))
        for statement in (*_RESET_JOINS, "DELETE FROM changed_entries"):
            self.conn.exec_driver_sql(statement)

    def _run(self, sql: str, rows: list[Any]) -> None:
        self.conn.exec_driver_sql(adapt(sql, self.dialect), rows)

    def _new_seqs(self, count: int) -> list[int]:
        """Seqs for `count` new entries: increasing, never reused."""
        if not count:
            return []
        if self.dialect == "sqlite":
            first = self.next_seq
            self.next_seq += count
            return list(range(first, first + count))
        rows = self.conn.exec_driver_sql(
            "SELECT nextval('entry_seq') FROM generate_series(1, %s)", (count,)
        )
        return sorted(row[0] for row in rows)

    def _existing(self, source_refs: list[str]) -> dict[str, Stored]:
        """The stored entries of these source-refs, by source-ref."""
        return {
            old.source_ref: old
            for old in stored_entries(
                self.conn, self.dialect, self.dataset_id, "source_ref", source_refs
            )
        }

    def _count_in(self, entry: StoredEntry) -> None:
        self.delta_labeled += entry.is_labeled
        self.delta_errors += entry.has_errors
        self.bucket_delta[entry.bucket] = self.bucket_delta.get(entry.bucket, 0) + 1
        for label, boxes in entry.labels.items():
            delta = self.label_delta.setdefault(label, [0, 0])
            delta[0] += 1
            delta[1] += boxes > 0

    def _count_out(self, old: Stored) -> None:
        self.delta_labeled -= bool(old.is_labeled)
        self.delta_errors -= bool(old.has_errors)
        self.bucket_delta[old.bucket] = self.bucket_delta.get(old.bucket, 0) - 1
        for label, boxes in old.labels.items():
            delta = self.label_delta.setdefault(label, [0, 0])
            delta[0] -= 1
            delta[1] -= boxes > 0

    def _apply_label_delta(self) -> None:
        touched = [label for label, (e, b) in self.label_delta.items() if e or b]
        current: dict[str, tuple[int, int]] = {}
        for start in range(0, len(touched), BATCH):
            rows = self.conn.execute(
                select(labels.c.label, labels.c.entry_count, labels.c.box_entry_count).where(
                    labels.c.dataset_id == self.dataset_id,
                    labels.c.label.in_(touched[start : start + BATCH]),
                )
            )
            current.update({row[0]: (row[1], row[2]) for row in rows})
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        removed: list[str] = []
        for label in touched:
            d_entries, d_boxes = self.label_delta[label]
            entry_count, box_count = current.get(label, (0, 0))
            entry_count, box_count = entry_count + d_entries, box_count + d_boxes
            if entry_count <= 0:
                if label in current:
                    removed.append(label)
            elif label in current:
                updates.append({"b_label": label, "e": entry_count, "b": box_count})
            else:
                inserts.append(
                    {
                        "dataset_id": self.dataset_id,
                        "label": label,
                        "entry_count": entry_count,
                        "box_entry_count": box_count,
                    }
                )
        if inserts:
            self.conn.execute(insert(labels), inserts)
        if updates:
            self.conn.execute(
                update(labels)
                .where(
                    labels.c.dataset_id == self.dataset_id, labels.c.label == bindparam("b_label")
                )
                .values(entry_count=bindparam("e"), box_entry_count=bindparam("b")),
                updates,
            )
        if removed:
            self.conn.execute(
                delete(labels).where(
                    labels.c.dataset_id == self.dataset_id, labels.c.label.in_(removed)
                )
            )
        self.result.labels_added = sorted(row["label"] for row in inserts)
        self.result.labels_removed = sorted(removed)

    def _apply_bucket_delta(self) -> None:
        for bucket, delta in self.bucket_delta.items():
            if not delta:
                continue
            count = self.conn.execute(
                select(buckets.c.entry_count).where(
                    buckets.c.dataset_id == self.dataset_id, buckets.c.bucket == bucket
                )
            ).scalar()
            where = (buckets.c.dataset_id == self.dataset_id) & (buckets.c.bucket == bucket)
            if count is None:
                if delta > 0:
                    self.conn.execute(
                        insert(buckets).values(
                            dataset_id=self.dataset_id, bucket=bucket, entry_count=delta
                        )
                    )
            elif count + delta <= 0:
                self.conn.execute(delete(buckets).where(where))
            else:
                self.conn.execute(update(buckets).where(where).values(entry_count=count + delta))


def iter_entry_rows(
    conn: Connection, dataset_id: int, batch: int = 1000
) -> Iterator[list[tuple[int, str, dict[str, int]]]]:
    """Every (seq, line, labels) of a dataset in seq order, a batch at a time (keyset)."""
    after = 0
    while True:
        rows = conn.execute(
            select(entries.c.seq, entries.c.line, entries.c.labels)
            .where(entries.c.dataset_id == dataset_id, entries.c.seq > after)
            .order_by(entries.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield [(row[0], row[1], orjson.loads(row[2])) for row in rows]
        after = rows[-1][0]
