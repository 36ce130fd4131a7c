"""pytest fixtures for code that talks to Rekognition Custom Labels: a real manifestdb server.

Installed with manifestdb (the `pytest11` entry point `manifestdb`), so any test can ask for:

- `manifestdb_endpoint` (session scope): the URL of a `manifestdb serve` process on a free
  loopback port with a throw-away data directory, started on first use and stopped when the
  session ends.
- `rekognition_client`: a boto3 Rekognition client for that server (region us-east-1,
  placeholder credentials: authentication is off).

Tests share the server, so each should use its own project names. For tests that must not start
a process at all, see `manifestdb.testing.mock_rekognition`. Nothing heavy is imported until a
fixture is used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
CLIENT_REGION = "us-east-1"
PLACEHOLDER_KEY = "testing"


class ManifestdbProcess:
    """One `manifestdb serve` subprocess on loopback."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / "manifestdb-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 3) -> None:
        """Start on a free port (another try on a new port if that one is taken meanwhile)."""
        for attempt in range(attempts):
            self.port = _free_port()
            command = [
                sys.executable,
                "-m",
                "manifestdb.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                "warning",
            ]
            env = {
                key: value for key, value in os.environ.items() if not key.startswith("MANIFESTDB_")
            }
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, env=env
                )
            if self._wait_ready():
                return
            self.stop()
            if attempt == attempts - 1:
                raise RuntimeError(
                    f"manifestdb serve did not start; its log:\n{self.log_path.read_text()}"
                )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/_manifestdb/health", timeout=1) as answer:
                    if answer.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def manifestdb_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a manifestdb server for the whole test session."""
    server = ManifestdbProcess(tmp_path_factory.mktemp("manifestdb") / "data")
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
