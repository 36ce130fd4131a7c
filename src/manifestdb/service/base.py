"""What every operation module shares: the store, settings, clock and resource lookups."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from manifestdb.config import Settings
from manifestdb.service.arns import parse_dataset_arn, parse_project_arn, parse_version_arn
from manifestdb.service.context import Caller
from manifestdb.service.errors import ResourceNotFoundException
from manifestdb.service.pagination import TokenCodec
from manifestdb.states import STATUS_MESSAGES, DatasetStatus, DatasetStatusMessageCode
from manifestdb.store import DatasetRecord, ProjectRecord, ProjectVersionRecord, Store, Tx


class ServiceBase:
    """State and helpers of the operations; subclasses add the operations themselves."""

    def __init__(
        self, store: Store, settings: Settings, on_job: Callable[[], None] | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.tokens = TokenCodec(store.token_key)
        self._on_job = on_job or (lambda: None)

    @staticmethod
    def now() -> float:
        return time.time()

    def job_queued(self) -> None:
        """Tell the runner there is work (it also polls, for jobs queued by other processes)."""
        self._on_job()

    def project_for(self, tx: Tx, caller: Caller, arn: str, *, lock: bool = False) -> ProjectRecord:
        """The caller's project with this ARN, or ResourceNotFoundException."""
        parts = parse_project_arn(arn)
        project = tx.project_by_arn(arn, lock=lock) if parts else None
        if project is None or project.account != caller.account or project.region != caller.region:
            raise ResourceNotFoundException(f"The project {arn} does not exist.")
        return project

    def dataset_for(self, tx: Tx, caller: Caller, arn: str, *, lock: bool = False) -> DatasetRecord:
        """The caller's dataset with this ARN (row-locked when `lock`), or ResourceNotFound."""
        parts = parse_dataset_arn(arn)
        dataset = tx.dataset_by_arn(arn, lock=lock) if parts else None
        if (
            parts is None
            or dataset is None
            or dataset.account != caller.account
            or parts.region != caller.region
        ):
            raise ResourceNotFoundException(f"The dataset {arn} does not exist.")
        return dataset

    def version_for(
        self, tx: Tx, caller: Caller, arn: str, *, lock: bool = False
    ) -> ProjectVersionRecord:
        """The caller's model (project version) with this ARN, or ResourceNotFoundException."""
        parts = parse_version_arn(arn)
        version = tx.project_version_by_arn(arn, lock=lock) if parts else None
        if (
            parts is None
            or version is None
            or parts.account != caller.account
            or parts.region != caller.region
        ):
            raise ResourceNotFoundException(f"The model {arn} does not exist.")
        return version

    @staticmethod
    def start_update(tx: Tx, dataset: DatasetRecord, now: float) -> None:
        """The dataset is busy with a job that changes its entries (UpdateDatasetEntries'
        status machine)."""
        tx.set_dataset_status(
            dataset.id,
            DatasetStatus.UPDATE_IN_PROGRESS,
            STATUS_MESSAGES[DatasetStatus.UPDATE_IN_PROGRESS],
            DatasetStatusMessageCode.SUCCESS,
            now,
        )

    @staticmethod
    def start_delete(tx: Tx, dataset: DatasetRecord, now: float) -> None:
        tx.set_dataset_status(
            dataset.id,
            DatasetStatus.DELETE_IN_PROGRESS,
            STATUS_MESSAGES[DatasetStatus.DELETE_IN_PROGRESS],
            DatasetStatusMessageCode.SUCCESS,
            now,
        )


def statuses_before(datasets: list[DatasetRecord]) -> dict[str, str]:
    """What a delete job records so that, if it fails, its datasets get their status back."""
    return {str(dataset.id): dataset.status for dataset in datasets}


def dataset_metadata(dataset: DatasetRecord) -> dict[str, Any]:
    """The DatasetMetadata shape (DescribeProjects lists it per project)."""
    return {
        "CreationTimestamp": dataset.created_at,
        "DatasetType": dataset.dataset_type,
        "DatasetArn": dataset.arn,
        "Status": dataset.status,
        "StatusMessage": dataset.status_message,
        "StatusMessageCode": dataset.status_message_code,
    }
