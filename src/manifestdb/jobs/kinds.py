"""The kinds of job, one rule each: what a job of the kind does, which datasets it touches, and the
status those datasets end in when it succeeds, when it meets a terminal error, and when it breaks.

`JobApplier.run` applies a job through its rule, and the runner records a broken job through it,
so a new kind is one more entry in `KINDS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from manifestdb import objects
from manifestdb.jobs import history, training
from manifestdb.jobs.distribute import choose_test_entries, labeled_count
from manifestdb.jobs.engine import chunked
from manifestdb.jobs.steps import (
    Lines,
    Rejected,
    Steps,
    close_job,
    finish_report,
    restore_entry,
    version_start,
)
from manifestdb.manifest import distribute_terminal
from manifestdb.states import DatasetStatus, JobKind, JobState, ProjectStatus, ProjectVersionStatus
from manifestdb.store import JobRecord, Tx

APPLY_BROKE = "manifestdb could not apply the change: {error}. See the server log."


@dataclass(frozen=True, slots=True)
class JobKindRule:
    kind: JobKind
    apply: Callable[[Steps, JobRecord, JobKindRule], None]
    touches: Callable[[Tx, JobRecord], list[int]]  # the ids of the datasets the job changes
    succeeded: DatasetStatus | None  # None: the datasets are gone
    rejected: DatasetStatus | None  # after a terminal (client) error; None: the kind has none
    # After a service error (our fault; the job's transaction rolled back). None: the status the
    # dataset had before the job, which the job's params record (`statuses_before`).
    broke: DatasetStatus | None
    broke_message: str  # the StatusMessage then; `{error}` is the exception's type
    project_broke: ProjectStatus | None = None  # the project's status after a service error
    # The status of the model (params `version_id`) after a service error; None: no model.
    model_broke: ProjectVersionStatus | None = None

    def lines(self, report_kind: str, *, is_manifest: bool) -> Lines:
        """How a job of this kind stores lines."""
        assert self.succeeded is not None and self.rejected is not None
        return Lines(report_kind, is_manifest, self.succeeded, self.rejected)

    def status_after_break(self, job: JobRecord, dataset_id: int) -> DatasetStatus:
        """The status of one of the job's datasets after a service error."""
        if self.broke is not None:
            return self.broke
        before = job.params.get("statuses_before", {}).get(str(dataset_id))
        # A job queued before statuses were recorded: a failed status lets every call through.
        return (
            DatasetStatus(before) if before in set(DatasetStatus) else DatasetStatus.UPDATE_FAILED
        )


def rule_for(kind: str) -> JobKindRule | None:
    """The rule of a stored kind; None for a kind this version does not know."""
    try:
        return KINDS[JobKind(kind)]
    except ValueError:
        return None


# -- what each kind does ---------------------------------------------------------------------


def _update(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    assert job.dataset_id is not None and job.payload is not None
    payload = job.payload
    steps.apply_lines(
        job, job.dataset_id, lambda: [payload], rule.lines("update", is_manifest=False)
    )


def _create_manifest(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    assert job.dataset_id is not None
    s3_object: dict[str, Any] = job.params["s3_object"]
    # A read failure here is a service error (the object was readable when the call was made).
    steps.apply_lines(
        job,
        job.dataset_id,
        lambda: objects.read_s3_object(steps.settings, s3_object),
        rule.lines("create", is_manifest=True),
    )


def _create_copy(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    assert job.dataset_id is not None
    source_id = job.params["source_dataset_id"]
    with steps.store.read() as tx:
        # The copy is of the source as it is now: one read snapshot, streamed page by page
        # into the write (a 250,000-line dataset is not held in memory).
        def chunks() -> Iterator[bytes]:
            for batch in tx.entry_rows(source_id):
                for _, line, _ in batch:
                    yield (line + "\n").encode()

        steps.apply_lines(
            job, job.dataset_id, chunks, rule.lines("create", is_manifest=False), local=True
        )


def _distribute(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    assert rule.succeeded is not None and rule.rejected is not None
    train_id, test_id = job.params["train_id"], job.params["test_id"]
    started = time.time()
    try:
        with steps.store.write() as tx:
            # Both rows first, in id order, as DeleteProject takes them (`lock_datasets`).
            tx.lock_datasets([train_id, test_id])
            rows = [(seq, labels) for batch in tx.entry_rows(train_id) for seq, _, labels in batch]
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
            start = version_start(job, "distribute", started)
            out = tx.entry_writer(train_id, start)
            out.remove([seq for seq, _ in moving])
            out_result = out.finish()
            into = tx.entry_writer(test_id, start)
            moved = [restore_entry(line, n) for n, (_, line) in enumerate(moving, 1)]
            for batch in chunked(moved):
                into.upsert(batch)
            in_result = into.finish()
            now = time.time()
            for dataset_id in (train_id, test_id):
                steps.complete(tx, dataset_id, rule.succeeded, now)
            report = {
                "kind": "distribute",
                "caller": start.caller,
                "moved": len(moving),
                "train_entries": out_result.total_entries,
                "test_entries": in_result.total_entries,
            }
            retention = steps.settings.retention()
            for dataset_id, writer, count in (
                (train_id, out, {"removed": len(moving)}),
                (test_id, into, {"added": in_result.added}),
            ):
                version = writer.close_version(dict(moved=len(moving), **count), retention)
                tx.save_report(
                    dataset_id,
                    job.id,
                    "distribute",
                    now,
                    finish_report(dict(report, version=version), started, now, rule.succeeded),
                )
            close_job(tx, job, JobState.DONE)
    except Rejected as rejected:
        steps.fail(job, [train_id, test_id], rule.rejected, rejected, started)


def _outcomes(rule: JobKindRule) -> history.Outcomes:
    assert rule.succeeded is not None and rule.rejected is not None
    return (rule.succeeded, rule.rejected)


def _revert(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    history.revert_version(steps, job, _outcomes(rule))


def _restore(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    history.restore_version(steps, job, _outcomes(rule))


def _delete_entries(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    history.delete_entries(steps, job, _outcomes(rule))


def _delete_dataset(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    assert job.dataset_id is not None
    with steps.store.write() as tx:
        tx.delete_dataset_rows(job.dataset_id)
        close_job(tx, job, JobState.DONE)


def _delete_project(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    assert job.project_id is not None
    with steps.store.write() as tx:
        for dataset_id in _project_datasets(tx, job):
            tx.delete_dataset_rows(dataset_id)
        tx.delete_project_row(job.project_id)
        close_job(tx, job, JobState.DONE)


def _train(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    training.train_version(steps, job)


def _start_model(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    training.start_version(steps, job)


def _stop_model(steps: Steps, job: JobRecord, rule: JobKindRule) -> None:
    training.stop_version(steps, job)


# -- which datasets each kind touches --------------------------------------------------------


def _its_dataset(_tx: Tx, job: JobRecord) -> list[int]:
    return [] if job.dataset_id is None else [job.dataset_id]


def _train_and_test(_tx: Tx, job: JobRecord) -> list[int]:
    return [job.params["train_id"], job.params["test_id"]]


def _no_dataset(_tx: Tx, _job: JobRecord) -> list[int]:
    return []


def _project_datasets(tx: Tx, job: JobRecord) -> list[int]:
    assert job.project_id is not None
    return [dataset.id for dataset in tx.datasets_of_projects([job.project_id])]


KINDS: dict[JobKind, JobKindRule] = {
    rule.kind: rule
    for rule in (
        JobKindRule(
            JobKind.UPDATE,
            _update,
            _its_dataset,
            succeeded=DatasetStatus.UPDATE_COMPLETE,
            rejected=DatasetStatus.UPDATE_FAILED,
            broke=DatasetStatus.UPDATE_FAILED,
            broke_message=APPLY_BROKE,
        ),
        JobKindRule(
            JobKind.CREATE_MANIFEST,
            _create_manifest,
            _its_dataset,
            succeeded=DatasetStatus.CREATE_COMPLETE,
            rejected=DatasetStatus.CREATE_FAILED,
            broke=DatasetStatus.CREATE_FAILED,
            broke_message=APPLY_BROKE,
        ),
        JobKindRule(
            JobKind.CREATE_COPY,
            _create_copy,
            _its_dataset,
            succeeded=DatasetStatus.CREATE_COMPLETE,
            rejected=DatasetStatus.CREATE_FAILED,
            broke=DatasetStatus.CREATE_FAILED,
            broke_message=APPLY_BROKE,
        ),
        JobKindRule(
            JobKind.DISTRIBUTE,
            _distribute,
            _train_and_test,
            succeeded=DatasetStatus.UPDATE_COMPLETE,
            rejected=DatasetStatus.UPDATE_FAILED,
            broke=DatasetStatus.UPDATE_FAILED,
            broke_message=APPLY_BROKE,
        ),
        JobKindRule(
            JobKind.DELETE_ENTRIES,
            _delete_entries,
            _its_dataset,
            succeeded=DatasetStatus.UPDATE_COMPLETE,
            rejected=DatasetStatus.UPDATE_FAILED,
            broke=DatasetStatus.UPDATE_FAILED,
            broke_message=APPLY_BROKE,
        ),
        JobKindRule(
            JobKind.REVERT,
            _revert,
            _its_dataset,
            succeeded=DatasetStatus.UPDATE_COMPLETE,
            rejected=DatasetStatus.UPDATE_FAILED,
            broke=DatasetStatus.UPDATE_FAILED,
            broke_message=APPLY_BROKE,
        ),
        JobKindRule(
            JobKind.RESTORE,
            _restore,
            _its_dataset,
            succeeded=DatasetStatus.UPDATE_COMPLETE,
            rejected=DatasetStatus.UPDATE_FAILED,
            broke=DatasetStatus.UPDATE_FAILED,
            broke_message=APPLY_BROKE,
        ),
        JobKindRule(
            JobKind.DELETE_DATASET,
            _delete_dataset,
            _its_dataset,
            succeeded=None,
            rejected=None,
            broke=None,
            broke_message=(
                "manifestdb could not delete the dataset: {error}. It keeps its entries; "
                "DeleteDataset may be called again. See the server log."
            ),
        ),
        JobKindRule(
            JobKind.DELETE_PROJECT,
            _delete_project,
            _project_datasets,
            succeeded=None,
            rejected=None,
            broke=None,
            broke_message=(
                "manifestdb could not delete the project: {error}. The project and its datasets "
                "are kept; DeleteProject may be called again. See the server log."
            ),
            project_broke=ProjectStatus.CREATED,
        ),
        JobKindRule(
            JobKind.TRAIN,
            _train,
            _no_dataset,  # it reads the datasets in a snapshot and changes none
            succeeded=None,
            rejected=None,
            broke=None,
            broke_message="manifestdb could not train the model: {error}. See the server log.",
            model_broke=ProjectVersionStatus.TRAINING_FAILED,
        ),
        JobKindRule(
            JobKind.START_MODEL,
            _start_model,
            _no_dataset,
            succeeded=None,
            rejected=None,
            broke=None,
            broke_message="manifestdb could not start the model: {error}. See the server log.",
            model_broke=ProjectVersionStatus.FAILED,
        ),
        JobKindRule(
            JobKind.STOP_MODEL,
            _stop_model,
            _no_dataset,
            succeeded=None,
            rejected=None,
            broke=None,
            broke_message="manifestdb could not stop the model: {error}. See the server log.",
            model_broke=ProjectVersionStatus.STOPPED,
        ),
    )
}
