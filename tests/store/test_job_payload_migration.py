"""Revision 0005 moves job payloads out of `jobs`, and back on a downgrade."""

from __future__ import annotations

from migration_support import alembic
from sqlalchemy import Engine, inspect, text

PAYLOAD = b'{"source-ref": "s3://b/a.jpg"}\n' * 1000


def test_payloads_move_to_their_own_table_and_back(engine: Engine) -> None:
    alembic(engine, "0004")
    with engine.begin() as connection:
        for job_id, payload in ((1, PAYLOAD), (2, None)):
            connection.execute(
                text(
                    "INSERT INTO jobs (id, kind, params, payload, state, created_at) "
                    "VALUES (:id, 'update', '{}', :payload, 'queued', 0)"
                ),
                {"id": job_id, "payload": payload},
            )

    alembic(engine, "0005")
    assert "payload" not in {column["name"] for column in inspect(engine).get_columns("jobs")}
    with engine.connect() as connection:
        moved = connection.execute(text("SELECT job_id, payload FROM job_payloads")).all()
        assert [(job_id, bytes(payload)) for job_id, payload in moved] == [(1, PAYLOAD)]
        assert connection.execute(text("SELECT count(*) FROM jobs")).scalar() == 2

    alembic(engine, "0004", down=True)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, payload FROM jobs ORDER BY id")).all()
    assert [(job_id, payload and bytes(payload)) for job_id, payload in rows] == [
        (1, PAYLOAD),
        (2, None),
    ]
