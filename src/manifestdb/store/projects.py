"""Queries on projects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from manifestdb.store.records import Conflict, ProjectRecord
from manifestdb.store.schema import projects, tags


def _project(row: Row[Any]) -> ProjectRecord:
    return ProjectRecord(**row._mapping)


class ProjectQueries:
    conn: Connection

    def insert_project(
        self,
        *,
        account: str,
        region: str,
        name: str,
        arn: str,
        feature: str,
        auto_update: str | None,
        status: str,
        created_at: float,
    ) -> ProjectRecord:
        values: dict[str, Any] = dict(
            account=account,
            region=region,
            name=name,
            arn=arn,
            feature=feature,
            auto_update=auto_update,
            status=status,
            created_at=created_at,
        )
        try:
            project_id = self.conn.execute(insert(projects).values(**values)).inserted_primary_key
        except IntegrityError as error:
            raise Conflict("project", str(error.orig)) from None
        assert project_id is not None
        return ProjectRecord(id=project_id[0], **values)

    def project_by_name(self, account: str, region: str, name: str) -> ProjectRecord | None:
        row = self.conn.execute(
            select(projects).where(
                projects.c.account == account,
                projects.c.region == region,
                projects.c.name == name,
            )
        ).first()
        return _project(row) if row else None

    def project_by_arn(self, arn: str, *, lock: bool = False) -> ProjectRecord | None:
        """The project, row-locked until the transaction ends when `lock`: FOR NO KEY UPDATE on
        PostgreSQL (see `DatasetQueries.lock_datasets`)."""
        query = select(projects).where(projects.c.arn == arn)
        if lock:
            query = query.with_for_update(key_share=True)
        row = self.conn.execute(query).first()
        return _project(row) if row else None

    def list_projects(
        self,
        *,
        account: str,
        region: str,
        after_id: int,
        limit: int,
        names: Sequence[str] | None,
        features: Sequence[str] | None,
    ) -> list[ProjectRecord]:
        """Projects in creation order after `after_id` (keyset), at most `limit`."""
        query = (
            select(projects)
            .where(
                projects.c.account == account,
                projects.c.region == region,
                projects.c.id > after_id,
            )
            .order_by(projects.c.id)
            .limit(limit)
        )
        if names:
            query = query.where(projects.c.name.in_(list(names)))
        if features:
            query = query.where(projects.c.feature.in_(list(features)))
        return [_project(row) for row in self.conn.execute(query)]

    def set_project_status(self, project_id: int, status: str) -> None:
        self.conn.execute(update(projects).where(projects.c.id == project_id).values(status=status))

    def delete_project_row(self, project_id: int) -> None:
        arn = select(projects.c.arn).where(projects.c.id == project_id).scalar_subquery()
        self.conn.execute(delete(tags).where(tags.c.arn == arn))
        self.conn.execute(delete(projects).where(projects.c.id == project_id))
