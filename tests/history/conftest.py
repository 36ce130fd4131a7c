"""Fixtures of the history tests: the history client of the shared server."""

from __future__ import annotations

from typing import Any

import pytest

from manifestdb.client import HistoryClient
from manifestdb.harness.process import CLIENT_REGION, PLACEHOLDER_KEY
from support.server import Server


def history_client(server: Server) -> HistoryClient:
    return HistoryClient(
        server.url,
        region=CLIENT_REGION,
        aws_access_key_id=PLACEHOLDER_KEY,
        aws_secret_access_key=PLACEHOLDER_KEY,
    )


@pytest.fixture(scope="session")
def history(server: Server) -> Any:
    return history_client(server)
