"""Dataset operations: create, describe, delete, update, list entries and labels, distribute."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from manifestdb import objects
from manifestdb.service.arns import dataset_arn
from manifestdb.service.base import ServiceBase, statuses_before
from manifestdb.service.context import Caller
from manifestdb.service.edits import refuse_changed
from manifestdb.service.errors import (
    InvalidParameterException,
    InvalidS3ObjectException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    ResourceNotFoundException,
    ResourceNotReadyException,
)
from manifestdb.service.tags import check_new_tags
from manifestdb.states import (
    BUSY,
    COMPLETE,
    STATUS_MESSAGES,
    DatasetStatus,
    DatasetStatusMessageCode,
    DatasetType,
    JobKind,
    ProjectStatus,
)
from manifestdb.store import DatasetRecord, EntryFilter, LabelStats

# A failed or running update leaves the source's entries whole: a copy takes them as they are.
COPYABLE = COMPLETE | {DatasetStatus.UPDATE_FAILED, DatasetStatus.UPDATE_IN_PROGRESS}


# A new dataset's version 0: nothing in it yet.
EMPTY_STATS = {"total_entries": 0, "labeled_entries": 0, "error_entries": 0, "total_labels": 0}


class DatasetOperations(ServiceBase):
    def create_dataset(
        self,
        caller: Caller,
        project_arn: str,
        dataset_type: str,
        dataset_source: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        given_tags = check_new_tags(tags)
        source = dataset_source or {}
        manifest = (source.get("GroundTruthManifest") or {}).get("S3Object")
        copy_from = source.get("DatasetArn")
        if dataset_source is not None and (manifest is None) == (copy_from is None):
            raise InvalidParameterException(
                "DatasetSource must have exactly one of GroundTruthManifest.S3Object or "
                "DatasetArn. Omit DatasetSource to create an empty dataset."
            )
        if manifest is not None:
            missing = [member for member in ("Bucket", "Name") if not manifest.get(member)]
            if missing:
                raise InvalidParameterException(
                    "GroundTruthManifest.S3Object needs Bucket and Name; missing: "
                    f"{', '.join(missing)}."
                )
            # Read access is checked now, as AWS does; the content is judged in the background.
            try:
                objects.check_s3_object(self.settings, manifest)
            except objects.ObjectUnreadable as unreadable:
                raise InvalidS3ObjectException(str(unreadable)) from None
        now = self.now()
        with self.store.write() as tx:
            project = self.project_for(tx, caller, project_arn, lock=True)
            if project.status != ProjectStatus.CREATED:
                raise InvalidParameterException(
                    f"The project {project_arn} is being deleted; datasets cannot be added."
                )
            if tx.dataset_of_type(project.id, dataset_type):
                raise ResourceAlreadyExistsException(
                    f"The project already has a {dataset_type} dataset. A project holds one "
                    "TRAIN and one TEST dataset; delete the existing one first."
                )
            source_dataset = None
            if copy_from is not None:
                source_dataset = self.dataset_for(tx, caller, copy_from)
                if source_dataset.status not in COPYABLE:
                    raise InvalidParameterException(
                        f"The source dataset is {source_dataset.status}; copy a dataset whose "
                        "creation has completed."
                    )
            arn = dataset_arn(
                caller.region, caller.account, project.name, dataset_type, int(now * 1000)
            )
            empty = manifest is None and source_dataset is None
            status = DatasetStatus.CREATE_COMPLETE if empty else DatasetStatus.CREATE_IN_PROGRESS
            dataset = tx.insert_dataset(
                project_id=project.id,
                account=caller.account,
                arn=arn,
                dataset_type=dataset_type,
                status=status,
                status_message=STATUS_MESSAGES[status],
                status_message_code=DatasetStatusMessageCode.SUCCESS,
                created_at=now,
            )
            tx.set_tags(arn, given_tags)
            tx.start_history(
                dataset.id, kind="created", caller=caller.principal, now=now, summary=EMPTY_STATS
            )
            if manifest is not None:
                tx.enqueue_job(
                    kind=JobKind.CREATE_MANIFEST,
                    dataset_id=dataset.id,
                    now=now,
                    params={"s3_object": manifest, "caller": caller.principal},
                )
            elif source_dataset is not None:
                tx.enqueue_job(
                    kind=JobKind.CREATE_COPY,
                    dataset_id=dataset.id,
                    now=now,
                    params={"source_dataset_id": source_dataset.id, "caller": caller.principal},
                )
        if not empty:
            self.job_queued()
        return {"DatasetArn": arn}

    def describe_dataset(self, caller: Caller, dataset_arn: str) -> dict[str, Any]:
        with self.store.read(snapshot=False) as tx:  # one statement
            dataset = self.dataset_for(tx, caller, dataset_arn)
        return {
            "DatasetDescription": {
                "CreationTimestamp": dataset.created_at,
                "LastUpdatedTimestamp": dataset.updated_at,
                "Status": dataset.status,
                "StatusMessage": dataset.status_message,
                "StatusMessageCode": dataset.status_message_code,
                "DatasetStats": {
                    "LabeledEntries": dataset.labeled_entries,
                    "TotalEntries": dataset.total_entries,
                    "TotalLabels": dataset.total_labels,
                    "ErrorEntries": dataset.error_entries,
                },
            }
        }

    def delete_dataset(self, caller: Caller, dataset_arn: str) -> dict[str, Any]:
        now = self.now()
        with self.store.write() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn, lock=True)
            refuse_busy(dataset, "deleted")
            self.start_delete(tx, dataset, now)
            tx.enqueue_job(
                kind=JobKind.DELETE_DATASET,
                dataset_id=dataset.id,
                now=now,
                params={"statuses_before": statuses_before([dataset])},
            )
        self.job_queued()
        return {}

    def update_dataset_entries(
        self,
        caller: Caller,
        dataset_arn: str,
        changes: dict[str, Any],
        expected_lines: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Queue the change; with `expected_lines` (source-ref -> stored line) only if those
        lines are still stored as given (ConflictException otherwise: a console edit)."""
        payload: bytes = changes["GroundTruth"]
        now = self.now()
        with self.store.write() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn, lock=True)
            refuse_busy(dataset, "updated")
            if expected_lines:
                # Under the dataset's lock and not busy: no job can change a line until commit.
                stored = {ref: tx.entry_line(dataset.id, ref) for ref in expected_lines}
                refuse_changed(stored, expected_lines)
            if dataset.status == DatasetStatus.CREATE_FAILED:
                raise InvalidParameterException(
                    "The dataset could not be created (CREATE_FAILED), so it cannot be updated. "
                    "Delete it and create it again."
                )
            self.start_update(tx, dataset, now)
            tx.enqueue_job(
                kind=JobKind.UPDATE,
                dataset_id=dataset.id,
                now=now,
                payload=payload,
                params={"caller": caller.principal},
            )
        self.job_queued()
        return {}

    def list_dataset_entries(
        self,
        caller: Caller,
        dataset_arn: str,
        contains_labels: list[str] | None = None,
        labeled: bool | None = None,
        source_ref_contains: str | None = None,
        has_errors: bool | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        limit = max_results or 100
        filters = EntryFilter(
            labels=tuple(dict.fromkeys(contains_labels or ())),
            labeled=labeled,
            has_errors=has_errors,
            contains=source_ref_contains,
        )
        query = [dataset_arn, sorted(filters.labels), labeled, has_errors, source_ref_contains]
        with self.store.read() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn)
            _refuse_unreadable(dataset)
            after = self.tokens.read(next_token, "ListDatasetEntries", query) or 0
            page = tx.entry_page(dataset.id, int(after), limit, filters)
        output: dict[str, Any] = {"DatasetEntries": page.lines}
        if page.last_seq is not None:
            output["NextToken"] = self.tokens.issue("ListDatasetEntries", query, page.last_seq)
        return output

    def list_dataset_labels(
        self,
        caller: Caller,
        dataset_arn: str,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        limit = max_results or 100
        with self.store.read() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn)
            _refuse_unreadable(dataset)
            after = self.tokens.read(next_token, "ListDatasetLabels", [dataset_arn])
            found = tx.label_page(dataset.id, after, limit + 1)
        page = found[:limit]
        output: dict[str, Any] = {"DatasetLabelDescriptions": label_descriptions(page)}
        if len(found) > limit:
            output["NextToken"] = self.tokens.issue(
                "ListDatasetLabels", [dataset_arn], page[-1].label
            )
        return output

    def distribute_dataset_entries(
        self, caller: Caller, datasets: list[dict[str, str]]
    ) -> dict[str, Any]:
        now = self.now()
        with self.store.write() as tx:
            # Found first, then locked together in id order, as DeleteProject and the
            # distribution job take them, so that none of them can deadlock another.
            by_arn = {
                arn: self.dataset_for(tx, caller, arn) for arn in {d["Arn"] for d in datasets}
            }
            locked = tx.lock_datasets([dataset.id for dataset in by_arn.values()])
            for arn, dataset in by_arn.items():
                if dataset.id not in locked:  # deleted meanwhile
                    raise ResourceNotFoundException(f"The dataset {arn} does not exist.")
            found = [locked[by_arn[item["Arn"]].id] for item in datasets]
            by_type = {dataset.dataset_type: dataset for dataset in found}
            if set(by_type) != {DatasetType.TRAIN, DatasetType.TEST}:
                raise InvalidParameterException(
                    "Datasets must hold exactly one TRAIN and one TEST dataset ARN."
                )
            train, test = by_type[DatasetType.TRAIN], by_type[DatasetType.TEST]
            if train.project_id != test.project_id:
                raise InvalidParameterException(
                    "The TRAIN and TEST datasets must belong to the same project."
                )
            for dataset in (train, test):
                if dataset.status not in COMPLETE:
                    raise ResourceNotReadyException(
                        f"The {dataset.dataset_type} dataset is {dataset.status}; both datasets "
                        "must be CREATE_COMPLETE or UPDATE_COMPLETE to distribute."
                    )
            if test.total_entries:
                raise InvalidParameterException(
                    "The TEST dataset must be empty: DistributeDatasetEntries moves 20% of the "
                    "TRAIN entries into it."
                )
            for dataset in (train, test):
                self.start_update(tx, dataset, now)
            tx.enqueue_job(
                kind=JobKind.DISTRIBUTE,
                dataset_id=train.id,
                now=now,
                params={"train_id": train.id, "test_id": test.id, "caller": caller.principal},
            )
        self.job_queued()
        return {}


def label_descriptions(page: list[LabelStats]) -> list[dict[str, Any]]:
    """ListDatasetLabels' DatasetLabelDescriptions of a page of label counters."""
    return [
        {
            "LabelName": stats.label,
            "LabelStats": {
                "EntryCount": stats.entry_count,
                "BoundingBoxCount": stats.box_entry_count,
            },
        }
        for stats in page
    ]


def refuse_busy(dataset: DatasetRecord, doing: str) -> None:
    if dataset.status in BUSY:
        raise ResourceInUseException(
            f"The dataset is {dataset.status} and cannot be {doing} now. Wait until "
            "DescribeDataset shows a status that is not *_IN_PROGRESS, then try again."
        )


def _refuse_unreadable(dataset: DatasetRecord) -> None:
    if dataset.status in (DatasetStatus.UPDATE_IN_PROGRESS, DatasetStatus.DELETE_IN_PROGRESS):
        raise ResourceInUseException(
            f"The dataset is {dataset.status}. List its entries once the update has finished."
        )
    if dataset.status in (DatasetStatus.CREATE_IN_PROGRESS, DatasetStatus.CREATE_FAILED):
        raise ResourceNotReadyException(
            f"The dataset is {dataset.status}; its entries can be listed once it is created."
        )
