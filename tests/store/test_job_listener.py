"""PostgreSQL: a runner in one process learns of a job another process queued or finished from
a notification sent when that transaction commits, not at its next poll (store.JobListener)."""

from __future__ import annotations

import threading

import pytest
from store_support import new_dataset

from manifestdb.states import JobState
from manifestdb.store import Store

WAIT = 30.0  # the longest a notification may take to arrive: a hang, not a speed, fails it


class Calls:
    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def __call__(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_for(self, count: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= count, WAIT)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_committed_enqueues_and_finishes_wake_a_listener_of_another_store(store: Store) -> None:
    # A second Store on the same database stands for another process (its own engine).
    other = Store(store.engine.url.render_as_string(hide_password=False))
    calls = Calls()
    listener = other.listen_for_jobs(calls)
    assert listener is not None
    try:
        assert calls.wait_for(1)  # once on connecting: jobs queued while it was not listening
        dataset_id = new_dataset(store)
        with store.write() as tx:
            job_id = tx.enqueue_job(kind="update", now=0.0, dataset_id=dataset_id, payload=b"{}")
        assert calls.wait_for(2)
        with store.write() as tx:
            job = tx.claim_next_job("worker", 30.0)
            assert job is not None and job.id == job_id
            assert tx.finish_job(job, JobState.DONE)
        assert calls.wait_for(3)
    finally:
        listener.stop()
        other.close()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sqlite_has_no_listener(store: Store) -> None:
    # One process runs an embedded database's jobs and wakes its runner directly.
    assert store.listen_for_jobs(lambda: None) is None
