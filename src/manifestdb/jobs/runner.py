"""The update runner: threads that claim queued jobs, apply them, and keep their leases alive.

`serve` runs one inside the server process (unless `--no-runner`); `manifestdb worker` runs one
as a process of its own. A claimed job carries a lease that a heartbeat renews while the job is
applied; a job whose worker died is claimed again once its lease has passed, and the job's own
transaction commits only if the lease is still ours (`steps.LostLease`), so no job is applied
twice or by halves.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable

from manifestdb import models
from manifestdb.config import Settings
from manifestdb.jobs.apply import JobApplier, LostLease, UnknownJobKind
from manifestdb.jobs.engine import EnginePool
from manifestdb.jobs.kinds import APPLY_BROKE, rule_for
from manifestdb.states import DatasetStatus, DatasetStatusMessageCode, JobState
from manifestdb.store import JobListener, JobRecord, Store, Tx

log = logging.getLogger("manifestdb.jobs")
POLL_SECONDS = 0.5


class Runner:
    """`concurrency` threads applying jobs; `stop` lets running jobs finish."""

    def __init__(self, store: Store, settings: Settings, *, concurrency: int = 1) -> None:
        self.store = store
        self.settings = settings
        self.concurrency = concurrency
        # Not on Windows: a helper's socket is handed over by file descriptor.
        helpers = settings.engine_helper and sys.platform != "win32"
        self.engines = EnginePool() if helpers else None
        self.applier = JobApplier(store, settings, self.engines)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = threading.Event()
        self._wake_trainer = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: JobListener | None = None
        # Without the models extra this runner takes no training (a runner that has it does).
        self.trains = models.missing() is None

    def start(self, *, requeue: bool = False) -> None:
        """Start the threads; `requeue` first returns every running job to the queue, which is
        right only when no other process runs jobs on this database (embedded SQLite)."""
        if requeue:
            with self.store.write() as tx:
                requeued = tx.requeue_running_jobs()
            if requeued:
                log.info("requeued %d job(s) interrupted by the last stop", requeued)
        if self.engines is not None:
            self.engines.warm()
        # PostgreSQL: jobs queued by other processes wake the threads at once, not at a poll.
        self._listener = self.store.listen_for_jobs(self.notify)
        loops: list[tuple[str, bool]] = [
            (f"manifestdb-runner-{index}", False) for index in range(self.concurrency)
        ]
        if self.trains:  # one more thread, for trainings: they take minutes, not milliseconds
            loops.append(("manifestdb-trainer", True))
        for name, model_jobs in loops:
            thread = threading.Thread(target=self._loop, args=(model_jobs,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def notify(self) -> None:
        self._wake.set()
        self._wake_trainer.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the running jobs and stop; queued jobs stay queued."""
        self._stop.set()
        self.notify()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._listener is not None:
            self._listener.stop()
        if self.engines is not None:
            self.engines.close()

    def _loop(self, models: bool) -> None:
        wake = self._wake_trainer if models else self._wake
        while not self._stop.is_set():
            job = self._claim(models)
            if job is None:
                wake.wait(POLL_SECONDS)
                wake.clear()
                continue
            with _Heartbeat(self._renew(job), self.settings.lease_seconds / 3):
                if self.settings.job_delay:  # counts as work: the lease is kept alive meanwhile
                    time.sleep(self.settings.job_delay)
                self._run(job)

    def _claim(self, models: bool) -> JobRecord | None:
        try:
            with self.store.write() as tx:
                return tx.claim_next_job(self.name, self.settings.lease_seconds, models=models)
        except Exception:
            log.exception("could not claim a job")
            return None

    def _renew(self, job: JobRecord) -> Callable[[], bool]:
        def renew() -> bool:
            with self.store.write() as tx:
                return tx.renew_lease(job, self.settings.lease_seconds)

        return renew

    def _run(self, job: JobRecord) -> None:
        started = time.perf_counter()
        try:
            self.applier.run(job)
        except LostLease as lost:
            log.warning("%s: nothing of it was committed here", lost)
            return
        except UnknownJobKind as unknown:
            log.error("job %d failed: %s; it is marked failed", job.id, unknown)
            self._mark_service_error(job, unknown)
        except Exception as error:
            log.error("job %d (%s) failed: %s\n%s", job.id, job.kind, error, traceback.format_exc())
            self._mark_service_error(job, error)
        log.info(
            "job %d %s finished in %.0f ms",
            job.id,
            job.kind,
            (time.perf_counter() - started) * 1000,
        )
        try:
            self.store.merge_pending_index_entries()  # before the next job, after this one's
        except Exception:
            log.exception("could not merge the trigram index's pending entries")

    def _mark_service_error(self, job: JobRecord, error: Exception) -> None:
        """Our fault, not the user's: the datasets of the job say SERVICE_ERROR and keep their
        entries, in the status its kind's rule gives (`jobs.kinds`).

        Recording that is retried until it works (a full disk can refuse it for a while), so the
        dataset is not left *_IN_PROGRESS while the server runs; on a stop the job stays claimed
        and the next start takes it up again."""
        retry = 0.1
        while True:
            try:
                with self.store.write() as tx:
                    if not tx.finish_job(job, JobState.FAILED, repr(error)):
                        return  # another worker holds the job now
                    _record_break(tx, job, error)
                return
            except Exception:
                log.exception("could not record the failure of job %d; retrying", job.id)
            if self._stop.wait(retry):
                return
            retry = min(retry * 2, 5.0)


def _record_break(tx: Tx, job: JobRecord, error: Exception) -> None:
    """Set the statuses a broken job leaves behind; a job of an unknown kind leaves its dataset
    UPDATE_FAILED (better than *_IN_PROGRESS for good: the dataset can be updated or deleted)."""
    rule = rule_for(job.kind)
    now = time.time()
    if rule is None:
        if job.dataset_id is not None:
            message = APPLY_BROKE.format(error=type(error).__name__)
            tx.set_dataset_status(
                job.dataset_id,
                DatasetStatus.UPDATE_FAILED,
                message,
                DatasetStatusMessageCode.SERVICE_ERROR,
                now,
            )
        return
    message = rule.broke_message.format(error=type(error).__name__)
    for dataset_id in rule.touches(tx, job):
        status = rule.status_after_break(job, dataset_id)
        tx.set_dataset_status(
            dataset_id, status, message, DatasetStatusMessageCode.SERVICE_ERROR, now
        )
    if rule.project_broke is not None and job.project_id is not None:
        tx.set_project_status(job.project_id, rule.project_broke)
    if rule.model_broke is not None and "version_id" in job.params:
        tx.set_project_version_status(int(job.params["version_id"]), rule.model_broke, message)


class _Heartbeat:
    """Renews a lease every `interval` seconds in a thread while a job is being applied."""

    def __init__(self, renew: Callable[[], bool], interval: float) -> None:
        self._renew = renew
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="manifestdb-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self._interval):
            try:
                if not self._renew():
                    log.warning("lost the lease of a running job; its commit will be refused")
                    return
            except Exception:
                log.exception("could not renew a job lease")
