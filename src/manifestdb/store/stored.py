"""A stored entry as the writers and history read it back: by seq or by source-ref."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection

from manifestdb.store.sql import raw_rows

_STORED_COLUMNS = "seq, source_ref, line, labels, is_labeled, has_errors, bucket"


class Stored(NamedTuple):
    """A stored entry, as much of it as replacing, removing or restoring it needs."""

    seq: int
    source_ref: str
    line: str
    labels: dict[str, int]  # {label: valid box count}
    is_labeled: bool
    has_errors: bool
    bucket: str


def stored_entries(
    conn: Connection, dialect: str, dataset_id: int, column: str, values: Sequence[Any]
) -> list[Stored]:
    """The dataset's entries whose `column` (seq or source_ref) is in `values`."""
    if not values:
        return []
    if dialect == "postgresql":
        # One unique-key lookup per value, planned as such whatever the statistics say: a
        # table never analyzed (mid-create, or autovacuum off) made `IN (...)` scan the
        # dataset's (dataset_id, seq) index instead, for every batch.
        element = "bigint" if column == "seq" else "text"
        sql = (
            f"SELECT {_STORED_COLUMNS} FROM unnest(?::{element}[]) AS wanted(value) "
            "CROSS JOIN LATERAL (SELECT * FROM entries "
            f"WHERE dataset_id = ? AND {column} = wanted.value OFFSET 0) AS e"
        )
        params: tuple[Any, ...] = (list(values), dataset_id)
    else:
        marks = ", ".join("?" for _ in values)
        sql = (
            f"SELECT {_STORED_COLUMNS} FROM entries WHERE dataset_id = ? AND {column} IN ({marks})"
        )
        params = (dataset_id, *values)
    loads = orjson.loads
    return [
        Stored(seq, ref, line, loads(labels), bool(labeled), bool(errors), bucket)
        for seq, ref, line, labels, labeled, errors, bucket in raw_rows(conn, sql, params)
    ]
