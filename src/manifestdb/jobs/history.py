"""The jobs of history: undo one version, restore a dataset to a version, delete entries.

Each is applied like an update (the UpdateDatasetEntries status machine, one transaction) and is
itself the dataset's next version, so it can be reverted in turn. The service checked the call
(the version exists and is revertible, conflicts refused unless forced, a deletion that deletes
something) while the dataset was free; from then until the job ends no other change may start,
so what it checked still holds here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from manifestdb.jobs.steps import (
    Rejected,
    Steps,
    close_job,
    finish_report,
    version_start,
    version_summary,
)
from manifestdb.manifest import Entry, dataset_terminal
from manifestdb.states import DatasetStatus, JobState
from manifestdb.store import Before, EntryFilter, EntryWriter, JobRecord, Tx

REPORTED_REFS = 1000  # source-refs a report lists (not found, forced); counts are complete

Target = tuple[str, int | None, Entry | None]
Outcomes = tuple[DatasetStatus, DatasetStatus]  # the status after success, after a terminal error


def _target(before: Before) -> Target:
    """What `put` makes of a source-ref to give it back `before`."""
    if before.line is None or before.bucket is None:
        return (before.source_ref, None, None)
    entry = Entry(
        0,
        before.source_ref,
        before.bucket,
        before.line,
        before.is_labeled,
        before.has_errors,
        before.labels,
        [],
    )
    return (before.source_ref, before.seq, entry)


def refs_at(tx: Tx, dataset_id: int, version: int) -> list[str]:
    """Every source-ref the dataset held at `version`."""
    overlay = tx.states_at(dataset_id, version)
    held = [before.source_ref for before in overlay.existing]
    if overlay.base_empty:
        return sorted(held)
    return sorted([ref for ref in tx.all_refs(dataset_id) if ref not in overlay.befores] + held)


def revert_targets(tx: Tx, dataset_id: int, version: int) -> list[Target]:
    """Undo `version`: each entry it changed as it was before it."""
    record = tx.version_record(dataset_id, version)
    assert record is not None
    if record.starts_empty:  # it filled an empty dataset: undone, the entries it added go
        return [(ref, None, None) for ref in refs_at(tx, dataset_id, version)]
    return [_target(before) for before in tx.version_befores(dataset_id, version)]


def restore_targets(tx: Tx, dataset_id: int, version: int) -> list[Target]:
    """Back to `version`: every entry changed since as it was then."""
    overlay = tx.states_at(dataset_id, version)
    targets = [_target(before) for before in overlay.befores.values()]
    if overlay.base_empty:  # nothing of today's entries was there
        targets += [
            (ref, None, None) for ref in tx.all_refs(dataset_id) if ref not in overlay.befores
        ]
    return sorted(targets, key=lambda target: target[0])


def revert_version(steps: Steps, job: JobRecord, outcomes: Outcomes) -> None:
    version = int(job.params["version"])

    def apply(tx: Tx, writer: EntryWriter, report: dict[str, Any]) -> None:
        assert job.dataset_id is not None
        targets = revert_targets(tx, job.dataset_id, version)
        forced = tx.refs_changed_after(job.dataset_id, version, [ref for ref, _, _ in targets])
        writer.put(targets)
        report.update(
            reverted=version, forced=bool(job.params.get("force")), changed_since=len(forced)
        )
        report["changed_since_refs"] = forced[:REPORTED_REFS]

    _apply(steps, job, outcomes, "revert", apply)


def restore_version(steps: Steps, job: JobRecord, outcomes: Outcomes) -> None:
    version = int(job.params["version"])

    def apply(tx: Tx, writer: EntryWriter, report: dict[str, Any]) -> None:
        assert job.dataset_id is not None
        writer.put(restore_targets(tx, job.dataset_id, version))
        report["restored_to"] = version

    _apply(steps, job, outcomes, "restore", apply)


def delete_entries(steps: Steps, job: JobRecord, outcomes: Outcomes) -> None:
    def apply(tx: Tx, writer: EntryWriter, report: dict[str, Any]) -> None:
        assert job.dataset_id is not None
        if job.payload is not None:  # a list of source-refs
            refs: list[str] = orjson.loads(job.payload)
        else:
            refs = matching_refs(tx, job.dataset_id, filter_of(job.params["filter"]))
        removed = writer.remove_refs(refs)
        report.update(requested=len(refs), removed=removed)
        if removed < len(refs):
            report["not_found"] = _not_found(tx, job.dataset_id, writer, refs)

    _apply(steps, job, outcomes, "delete_entries", apply)


def _not_found(tx: Tx, dataset_id: int, writer: EntryWriter, refs: Sequence[str]) -> list[str]:
    """The requested source-refs the dataset did not hold (their removal kept no history)."""
    removed = {
        before.source_ref for before in tx.version_befores(dataset_id, writer.history.version)
    }
    return [ref for ref in refs if ref not in removed][:REPORTED_REFS]


def filter_of(params: dict[str, Any]) -> EntryFilter:
    """A deletion's filter, as its job's params keep it (ListDatasetEntries' names)."""
    return EntryFilter(
        labels=tuple(params.get("ContainsLabels") or ()),
        labeled=params.get("Labeled"),
        has_errors=params.get("HasErrors"),
        contains=params.get("SourceRefContains"),
    )


def matching_refs(tx: Tx, dataset_id: int, filters: EntryFilter) -> list[str]:
    """The source-refs of every entry that passes `filters`, in seq order."""
    refs: list[str] = []
    after = 0
    while True:
        page = tx.entry_page(dataset_id, after, 1000, filters)
        refs.extend(orjson.loads(line)["source-ref"] for line in page.lines)
        if page.last_seq is None:
            return refs
        after = page.last_seq


def _apply(
    steps: Steps,
    job: JobRecord,
    outcomes: Outcomes,
    kind: str,
    apply: Callable[[Tx, EntryWriter, dict[str, Any]], None],
) -> None:
    """One transaction: the change (`apply`), the counters, the version, the report."""
    assert job.dataset_id is not None
    succeeded, rejected_status = outcomes
    dataset_id = job.dataset_id
    started = time.time()
    try:
        with steps.store.write() as tx:
            start = version_start(job, kind, started)
            writer = tx.entry_writer(dataset_id, start)
            report: dict[str, Any] = {"kind": kind, "caller": start.caller}
            apply(tx, writer, report)
            result = writer.finish()
            report.update(
                added=result.added,
                replaced=result.replaced,
                removed=result.removed,
                labels_added=result.labels_added,
                labels_removed=result.labels_removed,
            )
            terminal = dataset_terminal(
                total_entries=result.total_entries,
                total_labels=result.total_labels,
                bucket_count=result.bucket_count,
                limits=steps.settings.limits,
            )
            if terminal is not None:
                raise Rejected(terminal, report)
            now = time.time()
            steps.complete(tx, dataset_id, succeeded, now)
            changed = result.added + result.replaced + result.removed
            report["version"] = (
                writer.close_version(version_summary(report), steps.settings.retention())
                if changed or kind != "delete_entries"
                else None
            )
            tx.save_report(
                dataset_id, job.id, kind, now, finish_report(report, started, now, succeeded)
            )
            close_job(tx, job, JobState.DONE)
    except Rejected as rejected:
        steps.fail(job, [dataset_id], rejected_status, rejected, started)
