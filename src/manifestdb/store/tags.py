"""Queries on the tags of projects and datasets, by the resource's ARN."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, delete, select

from manifestdb.store.schema import tags
from manifestdb.store.sql import adapt

_UPSERT = (
    "INSERT INTO tags (arn, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value"
)


class TagQueries:
    conn: Connection
    dialect: str

    def tags_of(self, arn: str) -> dict[str, str]:
        rows = self.conn.execute(
            select(tags.c.key, tags.c.value).where(tags.c.arn == arn).order_by(tags.c.key)
        )
        return {key: value for key, value in rows}

    def tag_count(self, arn: str, adding: Iterable[str] = ()) -> int:
        """How many tags the resource would have with the keys `adding` set."""
        present = set(self.tags_of(arn))
        return len(present | set(adding))

    def set_tags(self, arn: str, values: Mapping[str, str]) -> None:
        """Add the tags, replacing the value of a key the resource already has."""
        if values:
            self.conn.exec_driver_sql(
                adapt(_UPSERT, self.dialect), [(arn, key, value) for key, value in values.items()]
            )

    def remove_tags(self, arn: str, keys: Iterable[str]) -> None:
        wanted = list(dict.fromkeys(keys))
        if wanted:
            self.conn.execute(delete(tags).where(tags.c.arn == arn, tags.c.key.in_(wanted)))

    def delete_tags(self, arn: str) -> None:
        """Remove every tag of a resource (it is being deleted)."""
        self.conn.execute(delete(tags).where(tags.c.arn == arn))
