"""Storage settings only PostgreSQL has (on SQLite these revisions do nothing):
- 0007 leaves room on `entries` pages (fillfactor 85), so a replaced line is a HOT update;
- 0008 stores job payloads uncompressed (STORAGE EXTERNAL): compressing 5 MiB was half of
  storing it.
Each downgrade restores what was there before."""

from __future__ import annotations

import pytest
from migration_support import alembic
from sqlalchemy import Engine, text

pytestmark = pytest.mark.parametrize("engine", ["postgres"], indirect=True)


def _value(engine: Engine, sql: str) -> object:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar()


def _options(engine: Engine) -> list[str]:
    options = _value(engine, "SELECT reloptions FROM pg_class WHERE relname = 'entries'")
    return list(options or [])  # type: ignore[call-overload]


def _payload_storage(engine: Engine) -> object:
    return _value(
        engine,
        "SELECT attstorage FROM pg_attribute "
        "WHERE attrelid = 'job_payloads'::regclass AND attname = 'payload'",
    )


def _stored_compressed(engine: Engine) -> object:
    """Whether a 5 MiB payload that compresses well is stored compressed."""
    payload = b'{"source-ref":"s3://bucket/image.jpg","label":1}\n' * 100_000
    with engine.begin() as connection:
        job = connection.execute(
            text(
                "INSERT INTO jobs (kind, params, state, created_at) "
                "VALUES ('update', '{}', 'queued', 0) RETURNING id"
            )
        ).scalar_one()
        connection.execute(
            text("INSERT INTO job_payloads (job_id, payload) VALUES (:job, :payload)"),
            {"job": job, "payload": payload},
        )
        method = connection.execute(
            text("SELECT pg_column_compression(payload) FROM job_payloads WHERE job_id = :job"),
            {"job": job},
        ).scalar()
        connection.execute(text("DELETE FROM job_payloads WHERE job_id = :job"), {"job": job})
        connection.execute(text("DELETE FROM jobs WHERE id = :job"), {"job": job})
    return method is not None


def test_entries_pages_keep_room_for_hot_updates(engine: Engine) -> None:
    alembic(engine, "0006")
    assert _options(engine) == []
    alembic(engine, "0007")
    assert _options(engine) == ["fillfactor=85"]
    alembic(engine, "0006", down=True)
    assert _options(engine) == []


def test_job_payloads_are_stored_uncompressed(engine: Engine) -> None:
    alembic(engine, "0007")
    assert _payload_storage(engine) == "x"  # extended: compressed when large
    assert _stored_compressed(engine)
    alembic(engine, "0008")
    assert _payload_storage(engine) == "e"  # external: out of line, as it is
    assert not _stored_compressed(engine)
    alembic(engine, "0007", down=True)
    assert _payload_storage(engine) == "x"
