"""Jobs judging their lines in a helper process (`jobs.engine`) store what the job's own thread
would: the same lines, counters and reports, for good lines, dropped ones and a change that
fails as a whole; a helper that stops early is used again; a dead helper costs no job."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from store_support import new_dataset

from manifestdb.config import Settings
from manifestdb.jobs.apply import JobApplier
from manifestdb.jobs.engine import EnginePool
from manifestdb.manifest.types import AWS_LIMITS, Limits
from manifestdb.store import Store
from support.lines import box_line, image_line, manifest


def _change(count: int, seed: int, bad_every: int = 0) -> bytes:
    lines: list[Any] = []
    for i in range(count):
        ref = f"s3://bucket/img/{i:05d}.jpg"
        if bad_every and i % bad_every == 0:
            lines.append('{"source-ref": "not a url"}')
        elif i % 3 == 0:
            lines.append(box_line(ref, [(f"l{(i + seed) % 7}", 10, 10, 30 + seed, 40)]))
        elif i % 3 == 1:
            lines.append(image_line(ref, f"l{(i * seed) % 5}"))
        else:
            lines.append({"source-ref": ref})
    return manifest(*lines)


def _apply(store: Store, applier: JobApplier, dataset_id: int, payload: bytes) -> None:
    with store.write() as tx:
        tx.enqueue_job(kind="update", dataset_id=dataset_id, now=time.time(), payload=payload)
    with store.write() as tx:
        job = tx.claim_next_job("test", 60)
    assert job is not None
    applier.run(job)


def _state(store: Store, dataset_id: int) -> dict[str, Any]:
    """What a job leaves: the lines in seq order, the counters, the report (times left out)."""
    with store.read() as tx:
        lines = [
            row[0]
            for row in tx.conn.execute(
                text("SELECT line FROM entries WHERE dataset_id = :d ORDER BY seq"),
                {"d": dataset_id},
            )
        ]
        dataset = tx.dataset_by_id(dataset_id)
        assert dataset is not None
        labels = tx.label_page(dataset_id, None, 100)
        reports = [report for _, report in tx.report_page(dataset_id, None, 100)]
    for report in reports:
        for key in ("started_at", "finished_at", "duration_ms"):
            report.pop(key)
    return {
        "lines": lines,
        "status": (dataset.status, dataset.status_message),
        "counters": (dataset.total_entries, dataset.labeled_entries, dataset.error_entries),
        "labels": labels,
        "reports": reports,
    }


@pytest.fixture
def pool() -> Iterator[EnginePool]:
    engines = EnginePool()
    yield engines
    engines.close()


def test_a_helper_stores_what_the_jobs_thread_would(store: Store, pool: EnginePool) -> None:
    settings = Settings(limits=AWS_LIMITS)
    here, helper = JobApplier(store, settings), JobApplier(store, settings, pool)
    changes = [
        _change(1200, 1),  # three batches back from the helper
        _change(900, 2, bad_every=50),  # dropped lines, listed in the report
        _change(40, 3, bad_every=2),  # too many dropped: UPDATE_FAILED, nothing stored
        _change(1300, 4),  # replacing what the first stored
    ]
    states = []
    for applier in (here, helper):
        dataset_id = new_dataset(store)
        for payload in changes:
            _apply(store, applier, dataset_id, payload)
        states.append(_state(store, dataset_id))
    assert states[0] == states[1]
    outcomes = [report["outcome"] for report in reversed(states[1]["reports"])]
    assert outcomes == ["UPDATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED", "UPDATE_COMPLETE"]
    assert states[1]["reports"][2]["dropped_count"] == 18  # the second change's bad lines


def test_a_helper_that_stopped_early_serves_the_next_job(store: Store, pool: EnginePool) -> None:
    """A read stopped by a limit leaves the rest of the change unread: the helper drains it and
    is the one that judges the next change."""
    few_lines = Limits(max_manifest_lines=100)
    dataset_id = new_dataset(store)
    with store.write() as tx:
        tx.conn.execute(text("UPDATE datasets SET status = 'CREATE_IN_PROGRESS'"))
    applier = JobApplier(store, Settings(limits=few_lines), pool)
    pool.warm()
    (helper,) = pool._idle
    read = pool.read(few_lines, is_manifest=True)
    assert read.helper is helper
    payload = _change(5000, 5)
    batches = list(read.entries([payload[: len(payload) // 2], payload[len(payload) // 2 :]]))
    assert sum(len(batch) for batch in batches) == 100
    assert read.summary.terminal is not None
    assert read.summary.terminal.code == "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"
    pool.done(read)
    assert pool._idle == [helper]
    _apply(store, applier, dataset_id, _change(50, 6))
    assert pool._idle == [helper] and helper.alive()
    assert _state(store, dataset_id)["counters"][0] == 50


def test_a_source_that_fails_fails_the_read_and_the_helper_lives_on(pool: EnginePool) -> None:
    def chunks() -> Iterator[bytes]:
        yield _change(700, 7)[:30_000]
        raise ConnectionError("the bucket went away")

    read = pool.read(AWS_LIMITS, is_manifest=True)
    with pytest.raises(ConnectionError, match="went away"):
        list(read.entries(chunks()))
    pool.done(read)
    again = pool.read(AWS_LIMITS, is_manifest=False)
    assert again.helper is read.helper  # the same process, ready for a new read
    assert [len(batch) for batch in again.entries([_change(10, 8)])] == [10]
    pool.done(again)


def test_a_dead_helper_costs_no_job(store: Store, pool: EnginePool) -> None:
    applier = JobApplier(store, Settings(limits=AWS_LIMITS), pool)
    dataset_id = new_dataset(store)
    pool.warm()
    (helper,) = pool._idle
    os.kill(helper.process.pid, signal.SIGKILL)
    helper.process.wait(5)
    _apply(store, applier, dataset_id, _change(600, 9))  # a new helper judges it
    state = _state(store, dataset_id)
    assert state["status"][0] == "UPDATE_COMPLETE" and state["counters"][0] == 600
    assert pool._idle and pool._idle[0] is not helper and pool._idle[0].alive()


def test_a_helper_dying_mid_job_has_the_job_applied_in_its_thread(
    store: Store, pool: EnginePool
) -> None:
    """The helper dies while the job reads (its transaction is rolled back): the job is applied
    again, its lines judged in the job's own thread."""
    applier = JobApplier(store, Settings(limits=AWS_LIMITS), pool)
    dataset_id = new_dataset(store)
    original = applier._store_lines
    original_read = pool.read
    calls = []

    def store_lines(*args: Any) -> None:
        calls.append(args[-1])
        original(*args)

    def read(limits: Any, is_manifest: bool) -> Any:
        # The helper handed to the job dies before it reads a byte. (Killed before the hand-out,
        # the pool could see it dead and spawn another: the job then read with a live helper.)
        remote = original_read(limits, is_manifest)
        os.kill(remote.helper.process.pid, signal.SIGKILL)
        remote.helper.process.wait(5)
        return remote

    applier._store_lines = store_lines  # type: ignore[method-assign]
    pool.read = read  # type: ignore[method-assign]
    for _ in range(EnginePool.MAX_FAILURES):
        _apply(store, applier, dataset_id, _change(300, 10))
    assert calls.count(None) == EnginePool.MAX_FAILURES  # each job finished in its own thread
    assert not pool.usable  # and after that many deaths, the pool is not asked again
    state = _state(store, dataset_id)
    assert [report["outcome"] for report in state["reports"]] == ["UPDATE_COMPLETE"] * 3
    assert orjson.loads(state["lines"][0])["source-ref"] == "s3://bucket/img/00000.jpg"
