"""Fixtures of the history tests: the history client of the shared server."""

from __future__ import annotations

from typing import Any

import pytest
from history_kit import history_client

from support.server import Server


@pytest.fixture(scope="session")
def history(server: Server) -> Any:
    return history_client(server)
