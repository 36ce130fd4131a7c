"""The job queue and update reports, kept in the database so any process can run a job."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from manifestdb.store.records import JobRecord
from manifestdb.store.schema import jobs, update_reports

REPORTS_KEPT = 100


class JobQueries:
    conn: Connection

    def enqueue_job(
        self,
        *,
        kind: str,
        now: float,
        dataset_id: int | None = None,
        project_id: int | None = None,
        params: dict[str, Any] | None = None,
        payload: bytes | None = None,
    ) -> int:
        key = self.conn.execute(
            insert(jobs).values(
                kind=kind,
                dataset_id=dataset_id,
                project_id=project_id,
                params=orjson.dumps(params or {}).decode(),
                payload=payload,
                state="queued",
                created_at=now,
            )
        ).inserted_primary_key
        assert key is not None
        return int(key[0])

    def claim_next_job(self, worker: str, now: float) -> JobRecord | None:
        """Mark the oldest queued job running for `worker` (call inside a write transaction)."""
        row = self.conn.execute(
            select(jobs).where(jobs.c.state == "queued").order_by(jobs.c.id).limit(1)
        ).first()
        if row is None:
            return None
        self.conn.execute(
            update(jobs)
            .where(jobs.c.id == row.id)
            .values(state="running", attempts=row.attempts + 1, claimed_by=worker, claimed_at=now)
        )
        return JobRecord(
            id=row.id,
            dataset_id=row.dataset_id,
            project_id=row.project_id,
            kind=row.kind,
            params=orjson.loads(row.params),
            payload=row.payload,
            attempts=row.attempts + 1,
        )

    def finish_job(self, job_id: int, state: str, now: float, error: str | None = None) -> None:
        """Close a job; its payload is no longer needed."""
        self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(state=state, finished_at=now, error=error, payload=None)
        )

    def requeue_running_jobs(self) -> int:
        """Jobs a stopped process left running go back to the queue (single-process SQLite)."""
        result = self.conn.execute(
            update(jobs).where(jobs.c.state == "running").values(state="queued", claimed_by=None)
        )
        return result.rowcount

    def pending_jobs(self) -> int:
        rows = self.conn.execute(select(jobs.c.id).where(jobs.c.state.in_(["queued", "running"])))
        return len(rows.all())

    def save_report(
        self, dataset_id: int, job_id: int | None, kind: str, now: float, report: dict[str, Any]
    ) -> None:
        """Keep a report, and only the newest REPORTS_KEPT of the dataset."""
        self.conn.execute(
            insert(update_reports).values(
                dataset_id=dataset_id,
                job_id=job_id,
                kind=kind,
                created_at=now,
                report=orjson.dumps(report).decode(),
            )
        )
        oldest_kept = self.conn.execute(
            select(update_reports.c.id)
            .where(update_reports.c.dataset_id == dataset_id)
            .order_by(update_reports.c.id.desc())
            .offset(REPORTS_KEPT - 1)
            .limit(1)
        ).scalar()
        if oldest_kept is not None:
            self.conn.execute(
                delete(update_reports).where(
                    update_reports.c.dataset_id == dataset_id, update_reports.c.id < oldest_kept
                )
            )

    def report_page(
        self, dataset_id: int, before_id: int | None, limit: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """Reports newest first, before `before_id` (keyset)."""
        query = (
            select(update_reports.c.id, update_reports.c.report)
            .where(update_reports.c.dataset_id == dataset_id)
            .order_by(update_reports.c.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(update_reports.c.id < before_id)
        return [(row[0], orjson.loads(row[1])) for row in self.conn.execute(query)]
