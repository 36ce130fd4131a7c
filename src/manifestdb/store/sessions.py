"""Queries on console sessions (by the hash of their token)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from manifestdb.store.records import SessionRecord
from manifestdb.store.schema import console_sessions


class SessionQueries:
    conn: Connection
    dialect: str

    def insert_session(self, record: SessionRecord) -> None:
        self.conn.execute(
            insert(console_sessions).values(
                token_hash=record.token_hash,
                access_key_id=record.access_key_id,
                region=record.region,
                csrf=record.csrf,
                created_at=record.created_at,
                expires_at=record.expires_at,
            )
        )

    def session_by_hash(self, token_hash: str) -> SessionRecord | None:
        row = self.conn.execute(
            select(
                console_sessions.c.token_hash,
                console_sessions.c.access_key_id,
                console_sessions.c.region,
                console_sessions.c.csrf,
                console_sessions.c.created_at,
                console_sessions.c.expires_at,
            ).where(console_sessions.c.token_hash == token_hash)
        ).first()
        return SessionRecord(*row) if row is not None else None

    def delete_session(self, token_hash: str) -> None:
        self.conn.execute(
            delete(console_sessions).where(console_sessions.c.token_hash == token_hash)
        )

    def delete_expired_sessions(self, now: float) -> None:
        self.conn.execute(delete(console_sessions).where(console_sessions.c.expires_at <= now))
