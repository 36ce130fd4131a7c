"""manifestdb.harness.postgres: fresh databases on a PostgreSQL server, dropped at the end, and
those of a process that died dropped by the next one."""

from __future__ import annotations

import os

import psycopg
import pytest

from manifestdb.harness import PostgresDatabases, database_url, postgres_problem
from support.server import POSTGRES_URL

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _postgres() -> None:
    problem = postgres_problem(POSTGRES_URL)
    if problem:
        pytest.skip(problem)


def _exists(name: str) -> bool:
    with psycopg.connect(POSTGRES_URL) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return found.fetchone() is not None


def test_databases_are_created_fresh_and_dropped() -> None:
    databases = PostgresDatabases(POSTGRES_URL, prefix="manifestdb_harness_")
    first, second = databases.create(), databases.create()
    assert first != second
    with psycopg.connect(first) as connection:
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchall() == [(0,)]
    names = list(databases.created)
    assert all(name.startswith(f"manifestdb_harness_{os.getpid()}_") for name in names)
    databases.drop(first)
    assert not _exists(names[0]) and _exists(names[1]) and databases.created == names[1:]
    databases.drop_all()
    assert not _exists(names[1]) and databases.created == []


def test_the_databases_of_a_dead_process_are_dropped() -> None:
    databases = PostgresDatabases(POSTGRES_URL, prefix="manifestdb_harness_")
    abandoned = "manifestdb_harness_999999999_0_abcdef"  # no such process
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{abandoned}"')
    mine = databases.create()
    try:
        assert abandoned in databases.drop_abandoned()
        assert not _exists(abandoned)
        assert _exists(databases.created[0])  # this process lives: its database stays
    finally:
        databases.drop(mine)


def test_a_database_url_keeps_user_host_and_query() -> None:
    url = "postgresql://me@db.example:5433/admin?sslmode=disable"
    assert database_url(url, "other") == "postgresql://me@db.example:5433/other?sslmode=disable"
    assert "server_version" in PostgresDatabases(POSTGRES_URL).server_settings("server_version")
