"""Persistence: one `Store` per process, transactions as `Tx` objects with typed query methods.

The service layer talks to the store only through `Store.read()` / `Store.write()` and the
methods of `Tx`; no SQL or SQLAlchemy object crosses that line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from manifestdb.store.database import Database, create_database_engine, migrate
from manifestdb.store.datasets import DatasetQueries
from manifestdb.store.entries import EntryWriter, iter_entry_rows
from manifestdb.store.history import (
    Before,
    HistoryQueries,
    Overlay,
    Retention,
    VersionRecord,
    VersionStart,
)
from manifestdb.store.jobs import JobListener, JobQueries
from manifestdb.store.listing import EntryFilter, entry_line, list_entry_page, list_entry_page_at
from manifestdb.store.project_versions import ProjectVersionQueries
from manifestdb.store.projects import ProjectQueries
from manifestdb.store.records import (
    ApplyResult,
    Conflict,
    DatasetRecord,
    EntryPage,
    JobRecord,
    LabelStats,
    ProjectRecord,
    ProjectVersionRecord,
    SessionRecord,
    StoredEntry,
)
from manifestdb.store.sessions import SessionQueries
from manifestdb.store.stored import Stored
from manifestdb.store.tags import TagQueries

__all__ = [
    "ApplyResult",
    "Before",
    "Conflict",
    "DatasetRecord",
    "EntryFilter",
    "EntryPage",
    "EntryWriter",
    "JobListener",
    "JobRecord",
    "LabelStats",
    "Overlay",
    "ProjectRecord",
    "ProjectVersionRecord",
    "Retention",
    "SessionRecord",
    "Store",
    "Stored",
    "StoredEntry",
    "Tx",
    "VersionRecord",
    "VersionStart",
]


class Tx(
    ProjectQueries,
    ProjectVersionQueries,
    DatasetQueries,
    JobQueries,
    TagQueries,
    SessionQueries,
    HistoryQueries,
):
    """One transaction and every query the service may run in it."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def entry_writer(self, dataset_id: int, start: VersionStart) -> EntryWriter:
        """A writer of the dataset's next version (`start`: its kind, caller and job)."""
        return EntryWriter(self.conn, self.dialect, dataset_id, start)

    def entry_page(
        self, dataset_id: int, after: int, limit: int, filters: EntryFilter
    ) -> EntryPage:
        return list_entry_page(self.conn, self.dialect, dataset_id, after, limit, filters)

    def entry_page_at(
        self, overlay: Overlay, dataset_id: int, after: int, limit: int, filters: EntryFilter
    ) -> EntryPage:
        """A page of the dataset as it was at the overlay's version."""
        return list_entry_page_at(
            self.conn, self.dialect, overlay, dataset_id, after, limit, filters
        )

    def entry_line(self, dataset_id: int, source_ref: str) -> str | None:
        return entry_line(self.conn, dataset_id, source_ref)

    def entry_rows(self, dataset_id: int) -> Iterator[list[tuple[int, str, dict[str, int]]]]:
        return iter_entry_rows(self.conn, dataset_id)


class Store:
    """The database of one manifestdb deployment."""

    def __init__(self, url: str) -> None:
        self.engine = create_database_engine(url)
        self.dialect = self.engine.dialect.name
        writer = create_database_engine(url, writer=True) if self.dialect == "sqlite" else None
        migrate(writer or self.engine)
        self.database = Database(self.engine, writer)
        self.token_key = self.database.secret("pagination_token_key")

    @contextmanager
    def read(self, *, snapshot: bool = True) -> Iterator[Tx]:
        with self.database.read(snapshot=snapshot) as conn:
            yield Tx(conn, self.dialect)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self.database.write() as conn:
            yield Tx(conn, self.dialect)

    def refresh_statistics(self) -> None:
        """PostgreSQL: bring the planner's statistics up to date after a large write.

        Autovacuum refreshes them only when it runs (it may be off), and a create writes in one
        transaction that it never sees: without them the planner took a new dataset for an empty
        one and scanned it for SourceRefContains. SQLite plans well without statistics.
        """
        if self.dialect == "postgresql":
            self._outside_transaction("ANALYZE entries, label_chunks, labels, buckets")

    def merge_pending_index_entries(self) -> None:
        """PostgreSQL: move the trigram index's pending entries into the index proper.

        GIN adds new source-refs to a pending list (fastupdate) that every SourceRefContains
        search reads in full, and that the insert which fills it merges on its own clock (its
        limit is 16 MB since migration 0009). Merged after each job's commit, off the job's
        clock, searches run at the index's speed and a change never pays for the last one's
        entries.
        """
        if self.dialect == "postgresql":
            self._outside_transaction("SELECT gin_clean_pending_list('ix_entries_source_ref_trgm')")

    def _outside_transaction(self, sql: str) -> None:
        """Run `sql` on a pooled connection in autocommit mode: maintenance after a job's
        commit, in no transaction of its own."""
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(sql)

    def listen_for_jobs(self, on_job: Callable[[], None]) -> JobListener | None:
        """PostgreSQL: a started `JobListener` calling `on_job` when any process of the
        database queues or finishes a job; None on SQLite (one process runs its jobs)."""
        if self.dialect != "postgresql":
            return None
        return JobListener(self.engine, on_job).start()

    def close(self) -> None:
        self.database.close()
