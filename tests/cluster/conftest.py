"""Fixtures of the PostgreSQL-only tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from manifestdb.harness import PostgresDatabases, postgres_problem
from support.server import POSTGRES_URL


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database's URL, dropped after the test (skipped where none runs)."""
    problem = postgres_problem(POSTGRES_URL)
    if problem:
        pytest.skip(problem)
    databases = PostgresDatabases(POSTGRES_URL)
    yield databases.create()
    databases.drop_all()
