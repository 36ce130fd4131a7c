"""The steps every kind of job is made of: a create, update or distribution commits in ONE
transaction, or not at all (`jobs.kinds` says which steps each kind takes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from manifestdb.config import Settings
from manifestdb.jobs.engine import EnginePool, HelperDied, LocalRead, ReadSummary, RemoteRead
from manifestdb.manifest import Entry, Terminal, check_line, dataset_terminal, details
from manifestdb.states import STATUS_MESSAGES, DatasetStatus, DatasetStatusMessageCode, JobState
from manifestdb.store import JobRecord, Store, Tx, VersionStart

STATISTICS_SHARE = 10  # a job that wrote 1/10 of a dataset's entries refreshes planner statistics


class Rejected(Exception):
    """A terminal error: the transaction rolls back and the dataset keeps what it had."""

    def __init__(self, terminal: Terminal, report: dict[str, Any]) -> None:
        super().__init__(terminal.status_message)
        self.terminal = terminal
        self.report = report


class LostLease(Exception):
    """Another worker took the job over (our lease ran out): roll back, apply nothing."""


@dataclass(frozen=True, slots=True)
class Lines:
    """How a job of lines is stored: the kind its report names, whether the lines are a manifest
    (judged by the manifest rules) and the statuses its dataset ends in."""

    report_kind: str
    is_manifest: bool
    succeeded: DatasetStatus
    rejected: DatasetStatus


def close_job(tx: Tx, job: JobRecord, state: JobState, error: str | None = None) -> None:
    """Mark the job finished as the last step of its transaction, if it is still ours."""
    if not tx.finish_job(job, state, error):
        raise LostLease(f"job {job.id} was taken over by another worker")


class Steps:
    """What applying a job needs; with `engines`, the lines of a change are judged in helper
    processes while this thread stores them (`jobs.engine`)."""

    def __init__(self, store: Store, settings: Settings, engines: EnginePool | None = None) -> None:
        self.store = store
        self.settings = settings
        self.engines = engines

    def apply_lines(
        self,
        job: JobRecord,
        dataset_id: int,
        open_chunks: Callable[[], Iterable[bytes]],
        lines: Lines,
        *,
        local: bool = False,
    ) -> None:
        """Store the entries of a change or manifest. `local`: judge the lines in this thread
        (their chunks come out of this thread's own transaction)."""
        engines = None if local or self.engines is None or not self.engines.usable else self.engines
        if engines is None:
            self._store_lines(job, dataset_id, open_chunks(), lines, None)
            return
        try:
            self._store_lines(job, dataset_id, open_chunks(), lines, engines)
        except HelperDied as died:
            # Nothing was committed: store the lines again, judging them here. (Their chunks are
            # read again: a payload is bytes, a manifest is opened anew.)
            engines.failed(died)
            self._store_lines(job, dataset_id, open_chunks(), lines, None)

    def _store_lines(
        self,
        job: JobRecord,
        dataset_id: int,
        chunks: Iterable[bytes],
        lines: Lines,
        engines: EnginePool | None,
    ) -> None:
        kind, done, failed = lines.report_kind, lines.succeeded, lines.rejected
        started = time.time()
        limits = self.settings.limits
        manifest = lines.is_manifest
        read: LocalRead | RemoteRead = (
            LocalRead(limits, manifest) if engines is None else engines.read(limits, manifest)
        )
        try:
            with self.store.write() as tx:
                writer = tx.entry_writer(dataset_id, version_start(job, kind, started))
                for batch in read.entries(chunks):
                    writer.upsert(batch)
                result = writer.finish()
                summary = read.summary
                report = _reader_report(kind, summary)
                report["caller"] = caller_of(job)
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
                    report["terminal_detail"] = details.terminal(
                        terminal.code,
                        lines_read=summary.lines_read,
                        bytes_read=summary.bytes_read,
                        dropped_count=summary.dropped_count,
                        total_entries=result.total_entries,
                        total_labels=result.total_labels,
                        buckets=result.buckets,
                        limits=limits,
                        first_bytes=summary.head,
                    )
                    raise Rejected(terminal, report)
                now = time.time()
                self.complete(tx, dataset_id, done, now)
                report["version"] = writer.close_version(
                    version_summary(report), self.settings.retention()
                )
                tx.save_report(
                    dataset_id, job.id, kind, now, finish_report(report, started, now, done)
                )
                close_job(tx, job, JobState.DONE)
        except Rejected as rejected:
            self.fail(job, [dataset_id], failed, rejected, started)
            return
        finally:
            if engines is not None and isinstance(read, RemoteRead):
                engines.done(read)
        if (result.added + result.replaced) * STATISTICS_SHARE >= result.total_entries:
            self.store.refresh_statistics()

    @staticmethod
    def complete(tx: Tx, dataset_id: int, status: DatasetStatus, now: float) -> None:
        """The dataset's status after a job that succeeded."""
        tx.set_dataset_status(
            dataset_id, status, STATUS_MESSAGES[status], DatasetStatusMessageCode.SUCCESS, now
        )

    def fail(
        self,
        job: JobRecord,
        dataset_ids: list[int],
        status: DatasetStatus,
        rejected: Rejected,
        started: float,
    ) -> None:
        """After a terminal error: the datasets say CLIENT_ERROR and keep their entries."""
        now = time.time()
        report = dict(rejected.report, added=0, replaced=0, labels_added=[], labels_removed=[])
        report["terminal"] = {
            "code": rejected.terminal.code,
            "message": rejected.terminal.message,
            "detail": report.pop("terminal_detail", None),
        }
        with self.store.write() as tx:
            for dataset_id in dataset_ids:
                tx.set_dataset_status(
                    dataset_id,
                    status,
                    rejected.terminal.status_message,
                    DatasetStatusMessageCode.CLIENT_ERROR,
                    now,
                )
                tx.save_report(
                    dataset_id, job.id, job.kind, now, finish_report(report, started, now, status)
                )
            close_job(tx, job, JobState.FAILED, rejected.terminal.status_message)


UNKNOWN_CALLER = "unknown (the job was queued before manifestdb kept history)"


def caller_of(job: JobRecord) -> str:
    """Who asked for the job: the principal's ARN its params record."""
    return str(job.params.get("caller") or UNKNOWN_CALLER)


def version_start(job: JobRecord, kind: str, now: float) -> VersionStart:
    """The version a job's change of a dataset becomes."""
    return VersionStart(kind=kind, caller=caller_of(job), job_id=job.id, now=now)


SUMMARY_KEYS = ("lines_read", "dropped_count", "added", "replaced", "removed", "moved")


def version_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What a version keeps of its report: the counts (the report itself is kept apart)."""
    return {key: report[key] for key in SUMMARY_KEYS if key in report}


def restore_entry(line: str, line_number: int) -> Entry:
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
            {
                "line": d.line_number,
                "code": d.code,
                "message": d.message,
                "detail": d.detail,
                "excerpt": d.excerpt,
            }
            for d in summary.dropped  # the first `jobs.engine.REPORTED_DROPS`
        ],
        "entries_with_errors": summary.entries_with_errors,
    }


def finish_report(
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
