"""Driver-level SQL written once for both backends: `?` placeholders, adapted per dialect."""

from __future__ import annotations

from functools import cache


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
