"""pytest fixtures for code that talks to Rekognition Custom Labels: a real manifestdb server.

Installed with manifestdb (the `pytest11` entry point `manifestdb`), so any test can ask for:

- `manifestdb_endpoint` (session scope): the URL of a `manifestdb serve` process on a free
  loopback port with a throw-away data directory, started on first use and stopped when the
  session ends.
- `rekognition_client`: a boto3 Rekognition client for that server (region us-east-1,
  placeholder credentials: authentication is off).

The server is `manifestdb.harness.ServerProcess`, the launcher manifestdb's own tests and
benchmarks use. Tests share the server, so each should use its own project names. For tests that
must not start a process at all, see `manifestdb.testing.mock_rekognition`. Nothing heavy is
imported until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

CLIENT_REGION = "us-east-1"
PLACEHOLDER_KEY = "testing"


@pytest.fixture(scope="session")
def manifestdb_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a manifestdb server for the whole test session."""
    from manifestdb.harness import ServerProcess

    directory = tmp_path_factory.mktemp("manifestdb")
    server = ServerProcess(
        directory / "data", log_level="warning", log_path=directory / "manifestdb-server.log"
    )
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def rekognition_client(manifestdb_endpoint: str) -> Any:
    """A boto3 Rekognition client for `manifestdb_endpoint`."""
    import boto3

    return boto3.client(
        "rekognition",
        endpoint_url=manifestdb_endpoint,
        region_name=CLIENT_REGION,
        aws_access_key_id=PLACEHOLDER_KEY,
        aws_secret_access_key=PLACEHOLDER_KEY,
    )
