"""Storage settings only PostgreSQL has (on SQLite these revisions do nothing):
- 0007 leaves room on `entries` pages (fillfactor 85), so a replaced line is a HOT update;
- 0008 stores job payloads uncompressed (STORAGE EXTERNAL): compressing 5 MiB was half of
  storing it;
- 0009 lets the trigram index's pending list hold a whole change (16 MB), and compresses
  payloads with lz4 where the server has it.
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
    """How a 5 MiB payload that compresses well is stored: its compression method, or None."""
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
    return method


def _index_options(engine: Engine) -> list[str]:
    options = _value(
        engine, "SELECT reloptions FROM pg_class WHERE relname = 'ix_entries_source_ref_trgm'"
    )
    return list(options or [])  # type: ignore[call-overload]


def _has_lz4(engine: Engine) -> bool:
    values = _value(
        engine, "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    return "lz4" in (values or [])  # type: ignore[operator]


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
    assert _stored_compressed(engine) == "pglz"
    alembic(engine, "0008")
    assert _payload_storage(engine) == "e"  # external: out of line, as it is
    assert _stored_compressed(engine) is None
    alembic(engine, "0007", down=True)
    assert _payload_storage(engine) == "x"


def test_the_pending_list_holds_a_change_and_payloads_are_compressed_by_lz4(
    engine: Engine,
) -> None:
    alembic(engine, "0008")
    assert _index_options(engine) == []
    alembic(engine, "0009")
    assert _index_options(engine) == ["gin_pending_list_limit=16384"]
    if _has_lz4(engine):
        assert _payload_storage(engine) == "x"
        assert _stored_compressed(engine) == "lz4"
    else:  # a server built without lz4 keeps 0008's setting
        assert _payload_storage(engine) == "e"
        assert _stored_compressed(engine) is None
    alembic(engine, "0008", down=True)
    assert _index_options(engine) == []
    assert _payload_storage(engine) == "e"
    assert _stored_compressed(engine) is None
