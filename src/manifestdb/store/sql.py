"""Driver-level SQL written once for both backends: `?` placeholders, adapted per dialect."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection


@cache
def adapt(sql: str, dialect: str) -> str:
    """`sql` with `?` placeholders in the paramstyle of `dialect` (psycopg takes `%s`)."""
    if dialect == "postgresql":
        assert "%" not in sql, "a literal % would need escaping for psycopg"
        return sql.replace("?", "%s")
    return sql


def true(dialect: str) -> str:
    """A boolean literal that both backends (and SQLite's partial indexes) understand."""
    return "true" if dialect == "postgresql" else "1"


def false(dialect: str) -> str:
    return "false" if dialect == "postgresql" else "0"


def raw_rows(
    conn: Connection, sql: str, params: Sequence[Any] = (), *, binary: bool = False
) -> list[tuple[Any, ...]]:
    """Rows of `sql` (with `?` placeholders) run on the DB-API cursor of `conn`'s transaction.

    For the hottest reads: SQLAlchemy builds result metadata for every statement it runs,
    which costs more than the query itself on a small indexed lookup. `binary`: PostgreSQL
    sends the results in binary form, for reads of large `bytea` values, which the text form
    doubles in size as hex and then decodes (a job payload reads several times faster).
    """
    dialect = conn.dialect.name
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor(binary=True) if binary and dialect == "postgresql" else dbapi.cursor()
    try:
        cursor.execute(adapt(sql, dialect), tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def run_many(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """`sql` (with `?` placeholders) once for each of `rows`, in one call.

    On PostgreSQL psycopg pipelines the rows, and here prepares the statement once for all of
    them: statements are otherwise never prepared (`create_database_engine`), and parsing and
    planning the same upsert for each of the hundreds of label bitmaps a large change rewrites
    was a sixth of their flush.
    """
    dialect = conn.dialect.name
    if dialect != "postgresql":
        conn.exec_driver_sql(sql, list(rows))
        return
    dbapi: Any = conn.connection.dbapi_connection
    saved = dbapi.prepare_threshold
    dbapi.prepare_threshold = 0  # executemany then prepares; a lone execute still never does
    try:
        with dbapi.cursor() as cursor:
            cursor.executemany(adapt(sql, dialect), rows)
    finally:
        dbapi.prepare_threshold = saved


def copy_rows(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: `rows` streamed by `sql`, a COPY ... FROM STDIN statement: one stream
    instead of a statement per row (each parsed and planned anew: statements are not
    prepared, see `create_database_engine`)."""
    dbapi: Any = conn.connection.dbapi_connection
    with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
