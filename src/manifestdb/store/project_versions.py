"""Queries on models (project versions) and their trained artifacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from manifestdb.store.records import Conflict, ProjectVersionRecord
from manifestdb.store.schema import model_artifacts, project_versions, tags


def _version(row: Row[Any]) -> ProjectVersionRecord:
    values = dict(row._mapping)
    values["details"] = orjson.loads(values["details"])
    return ProjectVersionRecord(**values)


class ProjectVersionQueries:
    conn: Connection

    def insert_project_version(
        self,
        *,
        project_id: int,
        name: str,
        arn: str,
        status: str,
        status_message: str,
        created_at: float,
        output_bucket: str,
        output_prefix: str,
        kms_key_id: str | None,
        description: str | None,
    ) -> ProjectVersionRecord:
        """A new model; Conflict when the project has one of that name (another process's)."""
        values: dict[str, Any] = dict(
            project_id=project_id,
            name=name,
            arn=arn,
            status=status,
            status_message=status_message,
            created_at=created_at,
            training_end=None,
            billable_seconds=None,
            output_bucket=output_bucket,
            output_prefix=output_prefix,
            kms_key_id=kms_key_id,
            description=description,
            min_units=None,
            max_units=None,
        )
        try:
            key = self.conn.execute(
                insert(project_versions).values(details="{}", **values)
            ).inserted_primary_key
        except IntegrityError as error:
            raise Conflict("project version", str(error.orig)) from None
        assert key is not None
        return ProjectVersionRecord(id=int(key[0]), details={}, **values)

    def _one_version(self, *where: Any, lock: bool = False) -> ProjectVersionRecord | None:
        query = select(project_versions).where(*where)
        if lock:
            query = query.with_for_update(key_share=True)
        row = self.conn.execute(query).first()
        return _version(row) if row else None

    def project_version_by_arn(
        self, arn: str, *, lock: bool = False
    ) -> ProjectVersionRecord | None:
        return self._one_version(project_versions.c.arn == arn, lock=lock)

    def project_version_by_id(self, version_id: int) -> ProjectVersionRecord | None:
        return self._one_version(project_versions.c.id == version_id)

    def project_version_named(self, project_id: int, name: str) -> ProjectVersionRecord | None:
        return self._one_version(
            project_versions.c.project_id == project_id, project_versions.c.name == name
        )

    def list_project_versions(
        self, project_id: int, *, before_id: int | None, limit: int, names: Sequence[str] | None
    ) -> list[ProjectVersionRecord]:
        """The project's models, newest first, before `before_id` (keyset), at most `limit`."""
        query = (
            select(project_versions)
            .where(project_versions.c.project_id == project_id)
            .order_by(project_versions.c.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(project_versions.c.id < before_id)
        if names:
            query = query.where(project_versions.c.name.in_(list(names)))
        return [_version(row) for row in self.conn.execute(query)]

    def count_project_versions(self, project_id: int) -> int:
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(project_versions)
                .where(project_versions.c.project_id == project_id)
            ).scalar_one()
        )

    def set_project_version_status(
        self,
        version_id: int,
        status: str,
        message: str,
        *,
        only_if: Sequence[str] | None = None,
        **values: Any,
    ) -> bool:
        """Set the model's status and message (and any other column given); with `only_if`,
        only while its status is one of those. False when no row changed."""
        if "details" in values:
            values["details"] = orjson.dumps(values["details"]).decode()
        query = (
            update(project_versions)
            .where(project_versions.c.id == version_id)
            .values(status=status, status_message=message, **values)
        )
        if only_if is not None:
            query = query.where(project_versions.c.status.in_(list(only_if)))
        return self.conn.execute(query).rowcount == 1

    def save_model_artifact(self, version_id: int, artifact: bytes) -> None:
        self.conn.execute(delete(model_artifacts).where(model_artifacts.c.version_id == version_id))
        self.conn.execute(insert(model_artifacts).values(version_id=version_id, artifact=artifact))

    def model_artifact(self, version_id: int) -> bytes | None:
        found = self.conn.execute(
            select(model_artifacts.c.artifact).where(model_artifacts.c.version_id == version_id)
        ).scalar()
        return bytes(found) if found is not None else None

    def delete_project_version_row(self, version_id: int) -> None:
        arn = (
            select(project_versions.c.arn)
            .where(project_versions.c.id == version_id)
            .scalar_subquery()
        )
        self.conn.execute(delete(tags).where(tags.c.arn == arn))
        self.conn.execute(delete(model_artifacts).where(model_artifacts.c.version_id == version_id))
        self.conn.execute(delete(project_versions).where(project_versions.c.id == version_id))
