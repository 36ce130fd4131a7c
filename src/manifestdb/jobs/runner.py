"""The update runner: a thread inside `serve` that claims queued jobs and applies them in order."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback

from manifestdb.config import Settings
from manifestdb.jobs.apply import JobApplier
from manifestdb.service.base import SERVICE_ERROR
from manifestdb.store import JobRecord, Store

log = logging.getLogger("manifestdb.jobs")
POLL_SECONDS = 0.5


class Runner:
    """Runs jobs one at a time; a crash mid-job leaves the job queued for the next start."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.applier = JobApplier(store, settings)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self.store.write() as tx:
            requeued = tx.requeue_running_jobs()
        if requeued:
            log.info("requeued %d job(s) interrupted by the last stop", requeued)
        self._thread = threading.Thread(target=self._loop, name="manifestdb-runner", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the running job (if any) and stop; queued jobs stay queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self._claim()
            if job is None:
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
                continue
            if self.settings.job_delay:
                time.sleep(self.settings.job_delay)
            self._run(job)

    def _claim(self) -> JobRecord | None:
        try:
            with self.store.write() as tx:
                return tx.claim_next_job(self.name, time.time())
        except Exception:
            log.exception("could not claim a job")
            return None

    def _run(self, job: JobRecord) -> None:
        started = time.perf_counter()
        try:
            self.applier.run(job)
        except Exception as error:
            log.error("job %d (%s) failed: %s\n%s", job.id, job.kind, error, traceback.format_exc())
            self._mark_service_error(job, error)
        log.info(
            "job %d %s finished in %.0f ms",
            job.id,
            job.kind,
            (time.perf_counter() - started) * 1000,
        )

    def _mark_service_error(self, job: JobRecord, error: Exception) -> None:
        """Our fault, not the user's: the dataset says SERVICE_ERROR and keeps its entries."""
        failed = "CREATE_FAILED" if job.kind.startswith("create") else "UPDATE_FAILED"
        message = (
            f"manifestdb could not apply the change: {type(error).__name__}. See the server log."
        )
        now = time.time()
        try:
            with self.store.write() as tx:
                targets = [job.params.get("train_id"), job.params.get("test_id")]
                for dataset_id in [d for d in targets if d] or [job.dataset_id]:
                    if dataset_id is not None and job.kind.startswith(
                        ("create", "update", "distribute")
                    ):
                        tx.set_dataset_status(dataset_id, failed, message, SERVICE_ERROR, now)
                tx.finish_job(job.id, "failed", now, error=repr(error))
        except Exception:
            log.exception("could not record the failure of job %d", job.id)
