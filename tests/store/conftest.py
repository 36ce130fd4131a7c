"""Fixtures for the store tests: an empty database of each backend (for migrations), or a
migrated Store on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from manifestdb.harness import PostgresDatabases, postgres_problem
from manifestdb.store import Store
from support.server import POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database (no revision applied) on SQLite, and on PostgreSQL where it runs."""
    if request.param == "postgres":
        problem = postgres_problem(POSTGRES_URL)
        if problem:
            pytest.skip(problem)
        databases = PostgresDatabases(POSTGRES_URL)
        url = databases.create().replace("postgresql://", "postgresql+psycopg://")
        engine = create_engine(url)
        yield engine
        engine.dispose()
        databases.drop_all()
    else:
        engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
        yield engine
        engine.dispose()


@pytest.fixture
def store(engine: Engine) -> Iterator[Store]:
    """A migrated Store on the database of `engine` (each backend)."""
    opened = Store(engine.url.render_as_string(hide_password=False))
    yield opened
    opened.close()
