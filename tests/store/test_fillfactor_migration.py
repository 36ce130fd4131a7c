"""Revision 0007 leaves room on PostgreSQL's `entries` pages (fillfactor 85), so a replaced line
is a HOT update; a downgrade resets it. SQLite has no fillfactor: the revision does nothing."""

from __future__ import annotations

import pytest
from migration_support import alembic
from sqlalchemy import Engine, text


def _options(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        options = connection.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'entries'")
        ).scalar()
    return list(options or [])


def test_entries_pages_keep_room_for_hot_updates(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("fillfactor is a PostgreSQL setting (SQLite: the revision does nothing)")
    alembic(engine, "0006")
    assert _options(engine) == []
    alembic(engine, "0007")
    assert _options(engine) == ["fillfactor=85"]
    alembic(engine, "0006", down=True)
    assert _options(engine) == []
