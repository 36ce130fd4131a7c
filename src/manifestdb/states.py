"""The states and kinds manifestdb speaks of, declared once: a bottom layer every package may use.

The four enums of the API are those of botocore's Rekognition model (`tests/test_states.py` holds
them to it); the job enums are manifestdb's own, and their values are what the `jobs` table
stores, so they never change. Each member is a `str`: it compares equal to the stored or sent
string, and is stored and serialized as that string.
"""

from __future__ import annotations

from enum import StrEnum


class DatasetStatus(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    CREATE_FAILED = "CREATE_FAILED"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"
    UPDATE_FAILED = "UPDATE_FAILED"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"


class DatasetStatusMessageCode(StrEnum):
    SUCCESS = "SUCCESS"
    SERVICE_ERROR = "SERVICE_ERROR"  # manifestdb's fault: the dataset keeps what it had
    CLIENT_ERROR = "CLIENT_ERROR"  # the change's fault (a terminal error of its content)


class ProjectStatus(StrEnum):
    # CREATING is in the model; a project here is created in the call, so it is never stored.
    CREATING = "CREATING"
    CREATED = "CREATED"
    DELETING = "DELETING"


class ProjectVersionStatus(StrEnum):
    """A model's status. manifestdb reaches the first nine; the copy, deprecation and expiry
    states belong to AWS features it does not have (CopyProjectVersion, model expiry)."""

    TRAINING_IN_PROGRESS = "TRAINING_IN_PROGRESS"
    TRAINING_COMPLETED = "TRAINING_COMPLETED"
    TRAINING_FAILED = "TRAINING_FAILED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    DELETING = "DELETING"
    COPYING_IN_PROGRESS = "COPYING_IN_PROGRESS"
    COPYING_COMPLETED = "COPYING_COMPLETED"
    COPYING_FAILED = "COPYING_FAILED"
    DEPRECATED = "DEPRECATED"
    EXPIRED = "EXPIRED"


class DatasetType(StrEnum):
    TRAIN = "TRAIN"
    TEST = "TEST"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"  # claimed by a worker, under a lease
    DONE = "done"
    FAILED = "failed"


class JobKind(StrEnum):
    UPDATE = "update"  # UpdateDatasetEntries
    CREATE_MANIFEST = "create_manifest"  # CreateDataset from a Ground Truth manifest
    CREATE_COPY = "create_copy"  # CreateDataset from another dataset
    DISTRIBUTE = "distribute"  # DistributeDatasetEntries
    DELETE_DATASET = "delete_dataset"
    DELETE_PROJECT = "delete_project"
    DELETE_ENTRIES = "delete_entries"  # manifestdb: DeleteDatasetEntries (history)
    REVERT = "revert"  # manifestdb: RevertDatasetVersion (undo one version)
    RESTORE = "restore"  # manifestdb: RestoreDatasetVersion (back to version N)
    TRAIN = "train"  # CreateProjectVersion: train and evaluate a model
    START_MODEL = "start_model"  # StartProjectVersion
    STOP_MODEL = "stop_model"  # StopProjectVersion


MODEL_JOBS = frozenset({JobKind.TRAIN})
"""Kinds that need the `models` extra (torch): claimed only by a runner's model thread."""


STATUS_MESSAGES: dict[DatasetStatus, str] = {
    DatasetStatus.CREATE_IN_PROGRESS: "The dataset is being created.",
    DatasetStatus.CREATE_COMPLETE: "The dataset was successfully created.",
    DatasetStatus.UPDATE_IN_PROGRESS: "The dataset is being updated.",
    DatasetStatus.UPDATE_COMPLETE: "The dataset was successfully updated.",
    DatasetStatus.DELETE_IN_PROGRESS: "The dataset is being deleted.",
}
"""The StatusMessage of each status reached with StatusMessageCode SUCCESS."""

BUSY = frozenset(
    {
        DatasetStatus.CREATE_IN_PROGRESS,
        DatasetStatus.UPDATE_IN_PROGRESS,
        DatasetStatus.DELETE_IN_PROGRESS,
    }
)
"""A dataset with a job waiting or running: no other change is accepted."""

COMPLETE = frozenset({DatasetStatus.CREATE_COMPLETE, DatasetStatus.UPDATE_COMPLETE})

MODEL_BUSY = frozenset(
    {
        ProjectVersionStatus.TRAINING_IN_PROGRESS,
        ProjectVersionStatus.STARTING,
        ProjectVersionStatus.RUNNING,
        ProjectVersionStatus.STOPPING,
    }
)
"""A model that may not be deleted now: it trains, runs, or is on its way to or from running."""
