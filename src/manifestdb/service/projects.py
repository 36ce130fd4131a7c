"""Project operations: CreateProject, DescribeProjects, DeleteProject."""

from __future__ import annotations

from typing import Any

from manifestdb.service.arns import project_arn
from manifestdb.service.base import ServiceBase, dataset_metadata, statuses_before
from manifestdb.service.context import Caller
from manifestdb.service.errors import InvalidParameterException, ResourceInUseException
from manifestdb.service.tags import check_new_tags
from manifestdb.states import BUSY, JobKind, ProjectStatus
from manifestdb.store import Conflict


class ProjectOperations(ServiceBase):
    def create_project(
        self,
        caller: Caller,
        project_name: str,
        feature: str = "CUSTOM_LABELS",
        auto_update: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        if feature != "CUSTOM_LABELS":
            raise InvalidParameterException(
                f"Feature {feature} is not supported by manifestdb: it serves Custom Labels "
                "datasets only. Omit Feature or use CUSTOM_LABELS."
            )
        if auto_update is not None:
            raise InvalidParameterException(
                "AutoUpdate applies only to the CONTENT_MODERATION feature. Omit it."
            )
        given_tags = check_new_tags(tags)
        now = self.now()
        arn = project_arn(caller.region, caller.account, project_name, int(now * 1000))
        try:
            with self.store.write() as tx:
                if tx.project_by_name(caller.account, caller.region, project_name):
                    raise _name_taken(project_name)
                tx.insert_project(
                    account=caller.account,
                    region=caller.region,
                    name=project_name,
                    arn=arn,
                    feature=feature,
                    auto_update=None,
                    status=ProjectStatus.CREATED,
                    created_at=now,
                )
                tx.set_tags(arn, given_tags)
        except Conflict:  # another server created it between our check and our insert
            raise _name_taken(project_name) from None
        return {"ProjectArn": arn}

    def describe_projects(
        self,
        caller: Caller,
        next_token: str | None = None,
        max_results: int | None = None,
        project_names: list[str] | None = None,
        features: list[str] | None = None,
    ) -> dict[str, Any]:
        limit = max_results or 100
        query = {"names": sorted(project_names or []), "features": sorted(features or [])}
        after = self.tokens.read(next_token, "DescribeProjects", query) or 0
        with self.store.read() as tx:
            found = tx.list_projects(
                account=caller.account,
                region=caller.region,
                after_id=int(after),
                limit=limit + 1,
                names=project_names,
                features=features,
            )
            page = found[:limit]
            by_project: dict[int, list[dict[str, Any]]] = {p.id: [] for p in page}
            for dataset in tx.datasets_of_projects(list(by_project)):
                by_project[dataset.project_id].append(dataset_metadata(dataset))
        output: dict[str, Any] = {
            "ProjectDescriptions": [
                {
                    "ProjectArn": project.arn,
                    "CreationTimestamp": project.created_at,
                    "Status": project.status,
                    "Feature": project.feature,
                    "Datasets": by_project[project.id],
                }
                for project in page
            ]
        }
        if len(found) > limit:
            output["NextToken"] = self.tokens.issue("DescribeProjects", query, page[-1].id)
        return output

    def delete_project(self, caller: Caller, project_arn: str) -> dict[str, Any]:
        now = self.now()
        with self.store.write() as tx:
            project = self.project_for(tx, caller, project_arn, lock=True)
            if project.status == ProjectStatus.DELETING:
                return {"Status": ProjectStatus.DELETING}
            models = tx.count_project_versions(project.id)
            if models:
                raise ResourceInUseException(
                    f"The project has {models} model(s): delete each (DeleteProjectVersion; a "
                    "running model is stopped first), then delete the project."
                )
            project_datasets = tx.datasets_of_projects([project.id], lock=True)
            busy = [d.arn for d in project_datasets if d.status in BUSY]
            if busy:
                raise ResourceInUseException(
                    f"The project has a dataset that is busy ({busy[0]}). Wait until its "
                    "status is no longer *_IN_PROGRESS, then delete the project."
                )
            tx.set_project_status(project.id, ProjectStatus.DELETING)
            for dataset in project_datasets:
                self.start_delete(tx, dataset, now)
            tx.enqueue_job(
                kind=JobKind.DELETE_PROJECT,
                project_id=project.id,
                now=now,
                params={"statuses_before": statuses_before(project_datasets)},
            )
        self.job_queued()
        return {"Status": ProjectStatus.DELETING}


def _name_taken(name: str) -> ResourceInUseException:
    return ResourceInUseException(
        f"A project named {name} already exists in this account and region. Choose another "
        "name, or delete that project first."
    )
