"""The job queue and update reports, kept in the database so any process can run a job."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, delete, exists, func, insert, or_, select, update

from manifestdb.states import MODEL_JOBS, JobState
from manifestdb.store.records import JobRecord
from manifestdb.store.schema import job_payloads, jobs, update_reports
from manifestdb.store.sql import raw_rows

log = logging.getLogger("manifestdb.jobs")
REPORTS_KEPT = 100
LISTEN_TIMEOUT = 1.0  # seconds a listener waits for a notification before checking its stop
JOBS_CHANNEL = "manifestdb_jobs"  # PostgreSQL: NOTIFY'd when a job may have become claimable


class JobListener:
    """PostgreSQL: calls `on_job` whenever a transaction that queued or finished a job commits,
    in any process of the database (LISTEN on a connection of its own, outside the pool).

    Without it a runner in another process than the caller's learns of a new job only at its
    next poll, up to `runner.POLL_SECONDS` later: on a push of many changes that was most of the
    time between two changes. The poll stays as the fallback: a notification lost while the
    connection was down only delays a job, and the listener reconnects.
    """

    def __init__(self, engine: Engine, on_job: Callable[[], None]) -> None:
        self._engine = engine
        self._on_job = on_job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="manifestdb-listen", daemon=True)

    def start(self) -> JobListener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _connect(self) -> Any:
        dialect = self._engine.dialect
        args, kwargs = dialect.create_connect_args(self._engine.url)
        connection = dialect.connect(*args, **kwargs)
        connection.autocommit = True
        connection.execute(f"LISTEN {JOBS_CHANNEL}")
        return connection

    def _run(self) -> None:
        retry = 0.1
        while not self._stop.is_set():
            try:
                connection = self._connect()
            except Exception as error:
                log.warning("cannot listen for jobs (%s); retrying in %.1f s", error, retry)
                self._stop.wait(retry)
                retry = min(retry * 2, 5.0)
                continue
            retry = 0.1
            try:
                with connection:
                    self._on_job()  # whatever was queued while not listening
                    while not self._stop.is_set():
                        for _ in connection.notifies(timeout=LISTEN_TIMEOUT, stop_after=1):
                            self._on_job()
            except Exception as error:
                if not self._stop.is_set():
                    log.warning("stopped listening for jobs (%s); reconnecting", error)


def _claimed_by(job: JobRecord) -> tuple[Any, ...]:
    """This claim of the job: the same worker and attempt, whatever the job's state now."""
    return (jobs.c.id == job.id, jobs.c.claimed_by == job.worker, jobs.c.attempts == job.attempts)


def _held_by(job: JobRecord) -> tuple[Any, ...]:
    return (*_claimed_by(job), jobs.c.state == JobState.RUNNING)


class JobQueries:
    conn: Connection
    dialect: str

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
                state=JobState.QUEUED,
                created_at=now,
            )
        ).inserted_primary_key
        assert key is not None
        job_id = int(key[0])
        if payload is not None:
            self.conn.execute(insert(job_payloads).values(job_id=job_id, payload=payload))
        self._announce_jobs()
        return job_id

    def _announce_jobs(self) -> None:
        """PostgreSQL: tell the runners of every process (`JobListener`) that a job may be
        claimable. Delivered when this transaction commits, and not at all if it rolls back."""
        if self.dialect == "postgresql":
            self.conn.exec_driver_sql(f"NOTIFY {JOBS_CHANNEL}")

    def claim_next_job(
        self, worker: str, lease_seconds: float, *, models: bool | None = None
    ) -> JobRecord | None:
        """Take the oldest job that is queued, or running with an expired lease, for `worker`.

        Only the oldest unfinished job of a dataset is eligible, so one dataset's jobs never
        run at the same time. PostgreSQL skips rows other workers are claiming (SKIP LOCKED).
        `models`: True takes only the kinds of `MODEL_JOBS` (training, minutes long), False
        every other kind, None any.
        """
        self._end_if_stalled(lease_seconds)
        now = self.database_now()
        older = jobs.alias("older")
        query = (
            select(jobs)
            .where(
                or_(
                    jobs.c.state == JobState.QUEUED,
                    and_(jobs.c.state == JobState.RUNNING, jobs.c.lease_until < now),
                ),
                ~exists().where(
                    older.c.dataset_id == jobs.c.dataset_id,
                    older.c.id < jobs.c.id,
                    older.c.state.in_([JobState.QUEUED, JobState.RUNNING]),
                ),
            )
            .order_by(jobs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True, of=jobs)
        )
        if models is not None:
            kinds = sorted(MODEL_JOBS)
            query = query.where(jobs.c.kind.in_(kinds) if models else jobs.c.kind.not_in(kinds))
        row = self.conn.execute(query).first()
        if row is None:
            return None
        self.conn.execute(
            update(jobs)
            .where(jobs.c.id == row.id)
            .values(
                state=JobState.RUNNING,
                attempts=row.attempts + 1,
                claimed_by=worker,
                claimed_at=now,
                lease_until=now + lease_seconds,
            )
        )
        found = raw_rows(
            self.conn, "SELECT payload FROM job_payloads WHERE job_id = ?", (row.id,), binary=True
        )
        payload = bytes(found[0][0]) if found else None
        return JobRecord(
            id=row.id,
            dataset_id=row.dataset_id,
            project_id=row.project_id,
            kind=row.kind,
            params=orjson.loads(row.params),
            payload=payload,
            attempts=row.attempts + 1,
            worker=worker,
        )

    def renew_lease(self, job: JobRecord, lease_seconds: float) -> bool:
        """Push the lease of a job we still hold; False when another worker has taken it.

        A job we finished meanwhile counts as held (on SQLite a renewal waits for the job's own
        write transaction, so it often runs just after the job's commit)."""
        self._end_if_stalled(lease_seconds)
        result = self.conn.execute(
            update(jobs)
            .where(*_held_by(job))
            .values(lease_until=self.database_now() + lease_seconds)
        )
        if result.rowcount == 1:
            return True
        finished_by_us = self.conn.execute(
            select(jobs.c.id).where(
                *_claimed_by(job), jobs.c.state.in_([JobState.DONE, JobState.FAILED])
            )
        ).first()
        return finished_by_us is not None

    def finish_job(self, job: JobRecord, state: str, error: str | None = None) -> bool:
        """Close a job we still hold (its payload is no longer needed); False if we lost it.

        Called last in the job's transaction: when it answers False the caller rolls back, so
        a worker that lost its lease never commits a second application of the job.
        """
        result = self.conn.execute(
            update(jobs)
            .where(*_held_by(job))
            .values(state=state, finished_at=self.database_now(), error=error)
        )
        if result.rowcount != 1:
            return False
        self.conn.execute(delete(job_payloads).where(job_payloads.c.job_id == job.id))
        self._announce_jobs()  # the dataset's next job, queued behind this one, may be claimed
        return True

    def requeue_running_jobs(self) -> int:
        """Jobs a stopped process left running go back to the queue (single-process SQLite)."""
        result = self.conn.execute(
            update(jobs)
            .where(jobs.c.state == JobState.RUNNING)
            .values(state=JobState.QUEUED, claimed_by=None)
        )
        return result.rowcount

    def _end_if_stalled(self, seconds: float) -> None:
        """PostgreSQL: end this transaction (and its session) if its process stalls in it.

        A claim or a renewal locks the job's row. A worker frozen between that UPDATE and its
        COMMIT (SIGSTOP, a paused VM, a swapped-out process) would hold the lock until it woke,
        and every other worker's claim skips locked rows: the job would wait for the frozen
        worker forever instead of a lease. These transactions never pause between statements, so
        a pause as long as the lease only comes from a stalled process.
        """
        if self.dialect == "postgresql":
            milliseconds = max(1, round(seconds * 1000))
            self.conn.exec_driver_sql(
                f"SET LOCAL idle_in_transaction_session_timeout = {milliseconds}"
            )

    def database_now(self) -> float:
        """Seconds since the epoch by the database's clock: leases compare across machines."""
        if self.dialect == "postgresql":
            return float(
                self.conn.execute(
                    select(func.extract("epoch", func.clock_timestamp()))
                ).scalar_one()
            )
        return time.time()

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
