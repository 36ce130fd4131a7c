"""Fixtures for the store tests: an empty database of each backend, for migrations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from server_support import PostgresDatabases, postgres_problem


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database (no revision applied) on SQLite, and on PostgreSQL where it runs."""
    if request.param == "postgres":
        problem = postgres_problem()
        if problem:
            pytest.skip(problem)
        databases = PostgresDatabases()
        url = databases.create().replace("postgresql://", "postgresql+psycopg://")
        engine = create_engine(url)
        yield engine
        engine.dispose()
        databases.drop_all()
    else:
        engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
        yield engine
        engine.dispose()
