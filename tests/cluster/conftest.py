"""Fixtures of the PostgreSQL-only tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server_support import PostgresDatabases, postgres_problem


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database's URL, dropped after the test (skipped where none runs)."""
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    databases = PostgresDatabases()
    yield databases.create()
    databases.drop_all()
