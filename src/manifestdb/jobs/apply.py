"""Applying one job: a create, update or distribution commits in ONE transaction, or not at all."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from manifestdb.config import Settings
from manifestdb.jobs.distribute import choose_test_entries, labeled_count
from manifestdb.jobs.engine import (
    EnginePool,
    HelperDied,
    LocalRead,
    ReadSummary,
    RemoteRead,
    chunked,
)
from manifestdb.manifest import (
    Entry,
    Terminal,
    check_line,
    dataset_terminal,
    distribute_terminal,
)
from manifestdb.service import sources
from manifestdb.service.base import CLIENT_ERROR, STATUS_MESSAGES, SUCCESS
from manifestdb.store import JobRecord, Store, Tx

STATISTICS_SHARE = 10  # a job that wrote 1/10 of a dataset's entries refreshes planner statistics


class Rejected(Exception):
    """A terminal error: the transaction rolls back and the dataset keeps what it had."""

    def __init__(self, terminal: Terminal, report: dict[str, Any]) -> None:
        super().__init__(terminal.status_message)
        self.terminal = terminal
        self.report = report


class LostLease(Exception):
    """Another worker took the job over (our lease ran out): roll back, apply nothing."""


def _close(tx: Tx, job: JobRecord, state: str, error: str | None = None) -> None:
    """Mark the job finished as the last step of its transaction, if it is still ours."""
    if not tx.finish_job(job, state, error):
        raise LostLease(f"job {job.id} was taken over by another worker")


class JobApplier:
    """Applies jobs; with `engines`, the lines of a change are judged in helper processes while
    this thread stores them (`jobs.engine`)."""

    def __init__(self, store: Store, settings: Settings, engines: EnginePool | None = None) -> None:
        self.store = store
        self.settings = settings
        self.engines = engines

    def run(self, job: JobRecord) -> None:
        """Apply `job` and close it, whatever its outcome (a crash leaves it to run again)."""
        handler = getattr(self, f"_{job.kind}")
        handler(job)

    # -- kinds of job --------------------------------------------------------------------------

    def _update(self, job: JobRecord) -> None:
        assert job.dataset_id is not None and job.payload is not None
        self._apply_lines(job, job.dataset_id, [job.payload], creating=False)

    def _create_manifest(self, job: JobRecord) -> None:
        assert job.dataset_id is not None
        s3_object = job.params["s3_object"]
        chunks = sources.read_s3_object(self.settings, s3_object)
        self._apply_lines(job, job.dataset_id, chunks, creating=True)

    def _create_copy(self, job: JobRecord) -> None:
        assert job.dataset_id is not None
        source_id = job.params["source_dataset_id"]
        with self.store.read() as tx:
            # The copy is of the source as it is now: one read snapshot, streamed page by page
            # into the write (a 250,000-line dataset is not held in memory).
            chunks = (
                (line + "\n").encode() for batch in tx.entry_rows(source_id) for _, line, _ in batch
            )
            self._apply_lines(
                job, job.dataset_id, chunks, creating=True, is_manifest=False, local=True
            )

    def _distribute(self, job: JobRecord) -> None:
        train_id, test_id = job.params["train_id"], job.params["test_id"]
        started = time.time()
        try:
            with self.store.write() as tx:
                rows = [
                    (seq, labels) for batch in tx.entry_rows(train_id) for seq, _, labels in batch
                ]
                refused = distribute_terminal(labeled_training_entries=labeled_count(rows))
                if refused is not None:
                    raise Rejected(refused, {"kind": "distribute"})
                train = tx.dataset_by_id(train_id)
                assert train is not None
                chosen = choose_test_entries(rows, seed=train.arn)
                moving = [
                    (seq, line)
                    for batch in tx.entry_rows(train_id)
                    for seq, line, _ in batch
                    if seq in chosen
                ]
                out = tx.entry_writer(train_id)
                out.remove([seq for seq, _ in moving])
                out_result = out.finish()
                into = tx.entry_writer(test_id)
                moved = [_restore(line, n) for n, (_, line) in enumerate(moving, 1)]
                for batch in chunked(moved):
                    into.upsert(batch)
                in_result = into.finish()
                now = time.time()
                for dataset_id in (train_id, test_id):
                    self._complete(tx, dataset_id, "UPDATE_COMPLETE", now)
                report = {
                    "kind": "distribute",
                    "moved": len(moving),
                    "train_entries": out_result.total_entries,
                    "test_entries": in_result.total_entries,
                }
                for dataset_id in (train_id, test_id):
                    tx.save_report(
                        dataset_id,
                        job.id,
                        "distribute",
                        now,
                        _finish_report(report, started, now, "UPDATE_COMPLETE"),
                    )
                _close(tx, job, "done")
        except Rejected as rejected:
            self._fail(job, [train_id, test_id], "UPDATE_FAILED", rejected, started)

    def _delete_dataset(self, job: JobRecord) -> None:
        assert job.dataset_id is not None
        with self.store.write() as tx:
            tx.delete_dataset_rows(job.dataset_id)
            _close(tx, job, "done")

    def _delete_project(self, job: JobRecord) -> None:
        assert job.project_id is not None
        with self.store.write() as tx:
            for dataset in tx.datasets_of_projects([job.project_id]):
                tx.delete_dataset_rows(dataset.id)
            tx.delete_project_row(job.project_id)
            _close(tx, job, "done")

    # -- shared steps --------------------------------------------------------------------------

    def _apply_lines(
        self,
        job: JobRecord,
        dataset_id: int,
        chunks: Iterable[bytes],
        *,
        creating: bool,
        is_manifest: bool | None = None,
        local: bool = False,
    ) -> None:
        """Store the entries of a change or manifest. `local`: judge the lines in this thread
        (their chunks come out of this thread's own transaction)."""
        engines = None if local or self.engines is None or not self.engines.usable else self.engines
        if engines is None:
            self._store_lines(job, dataset_id, chunks, creating, is_manifest, None)
            return
        try:
            self._store_lines(job, dataset_id, chunks, creating, is_manifest, engines)
        except HelperDied as died:
            # Nothing was committed: apply the job again, judging its lines here. (Its chunks
            # are read again: a payload is bytes, a manifest is opened anew.)
            engines.failed(died)
            self.run(job)

    def _store_lines(
        self,
        job: JobRecord,
        dataset_id: int,
        chunks: Iterable[bytes],
        creating: bool,
        is_manifest: bool | None,
        engines: EnginePool | None,
    ) -> None:
        kind = "create" if creating else "update"
        done, failed = (
            ("CREATE_COMPLETE", "CREATE_FAILED")
            if creating
            else ("UPDATE_COMPLETE", "UPDATE_FAILED")
        )
        started = time.time()
        limits = self.settings.limits
        manifest = creating if is_manifest is None else is_manifest
        read: LocalRead | RemoteRead = (
            LocalRead(limits, manifest) if engines is None else engines.read(limits, manifest)
        )
        try:
            with self.store.write() as tx:
                writer = tx.entry_writer(dataset_id)
                for batch in read.entries(chunks):
                    writer.upsert(batch)
                result = writer.finish()
                summary = read.summary
                report = _reader_report(kind, summary)
                report.update(
                    added=result.added,
                    replaced=result.replaced,
                    labels_added=result.labels_added,
                    labels_removed=result.labels_removed,
                )
                terminal = summary.terminal or dataset_terminal(
                    total_entries=result.total_entries,
                    total_labels=result.total_labels,
                    bucket_count=result.bucket_count,
                    limits=self.settings.limits,
                )
                if terminal is not None:
                    raise Rejected(terminal, report)
                now = time.time()
                self._complete(tx, dataset_id, done, now)
                tx.save_report(
                    dataset_id, job.id, kind, now, _finish_report(report, started, now, done)
                )
                _close(tx, job, "done")
        except Rejected as rejected:
            self._fail(job, [dataset_id], failed, rejected, started)
            return
        finally:
            if engines is not None and isinstance(read, RemoteRead):
                engines.done(read)
        if (result.added + result.replaced) * STATISTICS_SHARE >= result.total_entries:
            self.store.refresh_statistics()

    def _complete(self, tx: Tx, dataset_id: int, status: str, now: float) -> None:
        tx.set_dataset_status(dataset_id, status, STATUS_MESSAGES[status], SUCCESS, now)

    def _fail(
        self,
        job: JobRecord,
        dataset_ids: list[int],
        status: str,
        rejected: Rejected,
        started: float,
    ) -> None:
        now = time.time()
        report = dict(rejected.report, added=0, replaced=0, labels_added=[], labels_removed=[])
        report["terminal"] = {"code": rejected.terminal.code, "message": rejected.terminal.message}
        with self.store.write() as tx:
            for dataset_id in dataset_ids:
                tx.set_dataset_status(
                    dataset_id, status, rejected.terminal.status_message, CLIENT_ERROR, now
                )
                tx.save_report(
                    dataset_id, job.id, job.kind, now, _finish_report(report, started, now, status)
                )
            _close(tx, job, "failed", rejected.terminal.status_message)


def _restore(line: str, line_number: int) -> Entry:
    """A stored line as an Entry again (the engine is idempotent on its own output)."""
    entry = check_line(line, line_number)
    assert isinstance(entry, Entry)
    return entry


def _reader_report(kind: str, summary: ReadSummary) -> dict[str, Any]:
    return {
        "kind": kind,
        "lines_read": summary.lines_read,
        "bytes_read": summary.bytes_read,
        "dropped_count": summary.dropped_count,
        "dropped": [
            {"line": d.line_number, "code": d.code, "message": d.message, "excerpt": d.excerpt}
            for d in summary.dropped  # the first `jobs.engine.REPORTED_DROPS`
        ],
        "entries_with_errors": summary.entries_with_errors,
    }


def _finish_report(
    report: dict[str, Any], started: float, finished: float, outcome: str
) -> dict[str, Any]:
    return dict(
        report,
        started_at=started,
        finished_at=finished,
        duration_ms=round((finished - started) * 1000, 1),
        outcome=outcome,
        terminal=report.get("terminal"),
    )
