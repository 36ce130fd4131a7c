"""A worker frozen inside a claim or a lease renewal (SIGSTOP, a paused VM) holds the job's row
lock until it wakes; PostgreSQL ends such a transaction after the lease, so another worker claims
the job instead of skipping its locked row forever."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import DBAPIError
from store_support import new_dataset

from manifestdb.store import Store
from manifestdb.store.records import JobRecord

LEASE = 1.0


def _claimed(store: Store, worker: str) -> JobRecord | None:
    with store.write() as tx:
        return tx.claim_next_job(worker, LEASE)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
@pytest.mark.parametrize("frozen_in", ["claim", "renewal"])
def test_a_worker_frozen_mid_transaction_loses_the_job_after_its_lease(
    store: Store, frozen_in: str
) -> None:
    dataset_id = new_dataset(store)
    with store.write() as tx:
        job_id = tx.enqueue_job(kind="update", now=0.0, dataset_id=dataset_id, payload=b"{}")
    # The frozen worker: its UPDATE has run, its COMMIT never comes.
    frozen = store.write()
    tx = frozen.__enter__()
    if frozen_in == "claim":
        job = tx.claim_next_job("frozen", LEASE)
    else:
        job = _claimed(store, "frozen")
        assert job is not None
        assert tx.renew_lease(job, LEASE)
    assert job is not None and job.id == job_id
    frozen_at = time.monotonic()
    try:
        taken = None
        while taken is None and time.monotonic() - frozen_at < 15:
            taken = _claimed(store, "other")
            time.sleep(0.1)
        assert taken is not None, "the job stayed with the frozen worker"
        assert taken.id == job_id and taken.worker == "other"
        assert time.monotonic() - frozen_at >= LEASE * 0.9  # not before its lease could pass
    finally:
        # Woken up, the frozen worker finds its transaction (and session) gone: nothing commits.
        with pytest.raises(DBAPIError):
            frozen.__exit__(None, None, None)
    with store.write() as tx:
        assert not tx.renew_lease(job, LEASE)  # the lease is the other worker's now
