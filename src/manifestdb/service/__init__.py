"""The operations of the dataset service, as plain Python: no HTTP, no SQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from manifestdb.service.context import Caller
from manifestdb.service.datasets import DatasetOperations
from manifestdb.service.edits import EditOperations
from manifestdb.service.history import HistoryOperations
from manifestdb.service.images import ImageOperations
from manifestdb.service.models import ModelOperations
from manifestdb.service.projects import ProjectOperations
from manifestdb.service.reports import ReportOperations
from manifestdb.service.sessions import SessionOperations
from manifestdb.service.tags import TagOperations

OPERATIONS = {
    "CreateProject": "create_project",
    "DescribeProjects": "describe_projects",
    "DeleteProject": "delete_project",
    "CreateDataset": "create_dataset",
    "DescribeDataset": "describe_dataset",
    "DeleteDataset": "delete_dataset",
    "UpdateDatasetEntries": "update_dataset_entries",
    "ListDatasetEntries": "list_dataset_entries",
    "ListDatasetLabels": "list_dataset_labels",
    "DistributeDatasetEntries": "distribute_dataset_entries",
    "TagResource": "tag_resource",
    "UntagResource": "untag_resource",
    "ListTagsForResource": "list_tags_for_resource",
    # the model operations (service/models.py, docs/models.md)
    "CreateProjectVersion": "create_project_version",
    "DescribeProjectVersions": "describe_project_versions",
    "StartProjectVersion": "start_project_version",
    "StopProjectVersion": "stop_project_version",
    "DeleteProjectVersion": "delete_project_version",
    "DetectCustomLabels": "detect_custom_labels",
}

MODEL_OPERATIONS = (
    "CreateProjectVersion",
    "DescribeProjectVersions",
    "StartProjectVersion",
    "StopProjectVersion",
    "DeleteProjectVersion",
    "DetectCustomLabels",
)

# manifestdb's own operations, served under /_manifestdb/history/ (docs/history.md).
HISTORY_OPERATIONS = {
    name: _name
    for name, _name in (
        ("ListDatasetVersions", "list_dataset_versions"),
        ("DescribeDatasetVersion", "describe_dataset_version"),
        ("ListDatasetEntriesAtVersion", "list_dataset_entries_at_version"),
        ("ListDatasetLabelsAtVersion", "list_dataset_labels_at_version"),
        ("DiffDatasetVersions", "diff_dataset_versions"),
        ("RevertDatasetVersion", "revert_dataset_version"),
        ("RestoreDatasetVersion", "restore_dataset_version"),
        ("DeleteDatasetEntries", "delete_dataset_entries"),
    )
}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class Service(
    ProjectOperations,
    DatasetOperations,
    ReportOperations,
    TagOperations,
    ImageOperations,
    SessionOperations,
    EditOperations,
    HistoryOperations,
    ModelOperations,
):
    """Every operation this server implements, dispatched by the model's operation name."""

    def handler(self, operation: str) -> Callable[..., dict[str, Any]]:
        name = OPERATIONS.get(operation) or HISTORY_OPERATIONS[operation]
        method: Callable[..., dict[str, Any]] = getattr(self, name)
        return method

    def call(
        self, operation: str, caller: Caller, params: dict[str, Any], **conditions: Any
    ) -> dict[str, Any]:
        """Run `operation` with params keyed by the model's member names; `conditions` are
        keywords no API request carries (the console's `expected_lines` of a save)."""
        kwargs = {_snake(name): value for name, value in params.items()}
        return self.handler(operation)(caller, **kwargs, **conditions)


__all__ = ["HISTORY_OPERATIONS", "MODEL_OPERATIONS", "OPERATIONS", "Caller", "Service"]
