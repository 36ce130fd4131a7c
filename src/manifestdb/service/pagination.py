"""Pagination tokens: opaque, bound to their operation and query, and tamper-evident (HMAC)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

from manifestdb.service.errors import InvalidPaginationTokenException

_MAC_BYTES = 16


class TokenCodec:
    """Signs the position of a page together with what it was asked for."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, operation: str, query: Any, position: Any) -> str:
        body = orjson.dumps([operation, self._digest(query), position])
        return base64.urlsafe_b64encode(self._mac(body) + body).decode().rstrip("=")

    def read(self, token: str | None, operation: str, query: Any) -> Any:
        """The position a token points at, None for the first page (no token, or `""`)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise _invalid() from None
        mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, self._mac(body)):
            raise _invalid()
        try:
            issued_for, digest, position = orjson.loads(body)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise _invalid() from None
        if issued_for != operation or digest != self._digest(query):
            raise InvalidPaginationTokenException(
                "The pagination token was issued for a different request. Send the same "
                "parameters as the call that returned it, or no token to start again."
            )
        return position

    @staticmethod
    def _digest(query: Any) -> str:
        return hashlib.sha256(orjson.dumps(query, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _invalid() -> InvalidPaginationTokenException:
    return InvalidPaginationTokenException(
        "The pagination token is invalid. Use the NextToken of the previous response unchanged."
    )
