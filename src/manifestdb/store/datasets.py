"""Queries on datasets and their counters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from manifestdb.store.history import delete_history
from manifestdb.store.records import Conflict, DatasetRecord, LabelStats
from manifestdb.store.schema import (
    buckets,
    datasets,
    entries,
    label_chunks,
    labels,
    tags,
    update_reports,
)
from manifestdb.store.sql import raw_rows

_DATASET_BY_ARN = (
    f"SELECT {', '.join(column.name for column in datasets.columns)} FROM datasets WHERE arn = ?"
)


def _dataset(row: Row[Any]) -> DatasetRecord:
    return DatasetRecord(**row._mapping)


class DatasetQueries:
    conn: Connection
    dialect: str

    def insert_dataset(
        self,
        *,
        project_id: int,
        account: str,
        arn: str,
        dataset_type: str,
        status: str,
        status_message: str,
        status_message_code: str,
        created_at: float,
    ) -> DatasetRecord:
        values: dict[str, Any] = dict(
            project_id=project_id,
            account=account,
            arn=arn,
            dataset_type=dataset_type,
            status=status,
            status_message=status_message,
            status_message_code=status_message_code,
            created_at=created_at,
            updated_at=created_at,
        )
        try:
            key = self.conn.execute(insert(datasets).values(**values)).inserted_primary_key
        except IntegrityError as error:
            raise Conflict("dataset", str(error.orig)) from None
        assert key is not None
        return DatasetRecord(
            id=key[0],
            total_entries=0,
            labeled_entries=0,
            error_entries=0,
            total_labels=0,
            **values,
        )

    def dataset_by_arn(self, arn: str, *, lock: bool = False) -> DatasetRecord | None:
        """The dataset, row-locked until the transaction ends when `lock` (PostgreSQL: two
        servers must not both see it idle and both start an update)."""
        # Every dataset call starts here: plain SQL skips SQLAlchemy's per-call statement
        # caching work (a third of a DescribeDataset).
        locking = lock and self.dialect == "postgresql"
        sql = _DATASET_BY_ARN + (" FOR NO KEY UPDATE" if locking else "")
        rows = raw_rows(self.conn, sql, (arn,))
        return DatasetRecord(*rows[0]) if rows else None

    def dataset_by_id(self, dataset_id: int) -> DatasetRecord | None:
        row = self.conn.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
        return _dataset(row) if row else None

    def lock_datasets(self, dataset_ids: list[int]) -> dict[int, DatasetRecord]:
        """The datasets, row-locked until the transaction ends, by id.

        How rows are locked, so that no two transactions deadlock on PostgreSQL:
        - FOR NO KEY UPDATE, for projects and datasets alike: no key ever changes, and a plain
          FOR UPDATE also blocks the KEY SHARE lock of every foreign-key check on the row. (A
          job that updates its dataset's row twice in one transaction checks the row's
          project key the second time; under DeleteProject's FOR UPDATE of the project that
          check waited for DeleteProject while DeleteProject waited for the job's dataset.)
        - A transaction that locks several datasets takes them in id order, after their
          project's row if it locks that too (DeleteProject), and before writing any of them."""
        query = select(datasets).where(datasets.c.id.in_(dataset_ids)).order_by(datasets.c.id)
        rows = self.conn.execute(query.with_for_update(key_share=True))
        return {record.id: record for record in map(_dataset, rows)}

    def datasets_of_projects(
        self, project_ids: list[int], *, lock: bool = False
    ) -> list[DatasetRecord]:
        """The projects' datasets in id order, row-locked when `lock` (see `lock_datasets`)."""
        if not project_ids:
            return []
        query = (
            select(datasets).where(datasets.c.project_id.in_(project_ids)).order_by(datasets.c.id)
        )
        rows = self.conn.execute(query.with_for_update(key_share=True) if lock else query)
        return [_dataset(row) for row in rows]

    def dataset_of_type(self, project_id: int, dataset_type: str) -> DatasetRecord | None:
        row = self.conn.execute(
            select(datasets).where(
                datasets.c.project_id == project_id, datasets.c.dataset_type == dataset_type
            )
        ).first()
        return _dataset(row) if row else None

    def set_dataset_status(
        self, dataset_id: int, status: str, message: str, code: str, now: float
    ) -> None:
        self.conn.execute(
            update(datasets)
            .where(datasets.c.id == dataset_id)
            .values(status=status, status_message=message, status_message_code=code, updated_at=now)
        )

    def label_page(self, dataset_id: int, after: str | None, limit: int) -> list[LabelStats]:
        """Label counters by name (binary order), after `after`, at most `limit`."""
        sql = "SELECT label, entry_count, box_entry_count FROM labels WHERE dataset_id = ?"
        params: list[Any] = [dataset_id]
        if after is not None:
            sql += " AND label > ?"
            params.append(after)
        rows = raw_rows(self.conn, sql + " ORDER BY label LIMIT ?", (*params, limit))
        return [LabelStats(*row) for row in rows]

    def delete_dataset_rows(self, dataset_id: int) -> None:
        """Remove a dataset and everything it holds."""
        if self.dialect == "sqlite":
            # The contentless trigram index forgets a row only when told its indexed text.
            self.conn.exec_driver_sql(
                "INSERT INTO entries_fts(entries_fts, rowid, source_ref) "
                "SELECT 'delete', seq, source_ref FROM entries WHERE dataset_id = ?",
                (dataset_id,),
            )
        for table in (entries, label_chunks, labels, buckets, update_reports):
            self.conn.execute(delete(table).where(table.c.dataset_id == dataset_id))
        delete_history(self.conn, dataset_id)
        arn = select(datasets.c.arn).where(datasets.c.id == dataset_id).scalar_subquery()
        self.conn.execute(delete(tags).where(tags.c.arn == arn))
        self.conn.execute(delete(datasets).where(datasets.c.id == dataset_id))
