"""Console sessions, as plain records: opened after a login the wire layer has checked, looked up
by their token, closed at logout. Tokens are random 32-byte values; the store keeps their SHA-256
only, so a copy of the database opens no session."""

from __future__ import annotations

import hashlib
import secrets

from manifestdb.service.base import ServiceBase
from manifestdb.store import SessionRecord


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class SessionOperations(ServiceBase):
    def open_session(
        self, access_key_id: str, region: str, lifetime_seconds: float
    ) -> tuple[str, SessionRecord]:
        """A new session's token (for the cookie) and its record (with its CSRF token)."""
        token = secrets.token_urlsafe(32)
        now = self.now()
        record = SessionRecord(
            token_hash=_hash(token),
            access_key_id=access_key_id,
            region=region,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + lifetime_seconds,
        )
        with self.store.write() as tx:
            tx.delete_expired_sessions(now)
            tx.insert_session(record)
        return token, record

    def find_session(self, token: str) -> SessionRecord | None:
        """The live session of a token, or None (unknown, ended or expired)."""
        if not token or len(token) > 128:
            return None
        with self.store.read(snapshot=False) as tx:
            record = tx.session_by_hash(_hash(token))
        if record is None or record.expires_at <= self.now():
            return None
        return record

    def close_session(self, token: str) -> None:
        with self.store.write() as tx:
            tx.delete_session(_hash(token))


__all__ = ["SessionOperations", "SessionRecord"]
