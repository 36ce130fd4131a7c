"""What tests share besides fixtures: real `manifestdb serve` processes, PostgreSQL databases,
and helpers that drive a dataset through boto3. (Fixtures live in conftest.py.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import urllib3
from botocore.config import Config

DATA = Path(__file__).parent / "data"
CREDENTIALS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "test",
    "aws_secret_access_key": "test",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A `manifestdb serve` subprocess and what tests need to talk to it."""

    data_dir: Path
    args: list[str]
    env: dict[str, str]
    backend_args: list[str] = field(default_factory=list)  # e.g. --database-url, kept on restart
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        self.port = self.port or free_port()
        self.log_path = self.data_dir.parent / f"server-{self.port}-{uuid.uuid4().hex[:6]}.log"
        command = [
            sys.executable,
            "-m",
            "manifestdb.cli",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.backend_args,
            *self.args,
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        http = urllib3.PoolManager()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            try:
                if (
                    http.request(
                        "GET", f"{self.url}/_manifestdb/health", timeout=1, retries=False
                    ).status
                    == 200
                ):
                    return self
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def client(self, **config: Any) -> Any:
        return boto3.client(
            "rekognition",
            endpoint_url=self.url,
            config=Config(retries={"max_attempts": 1}, **config),
            **CREDENTIALS,
        )


ServerFactory = Callable[..., Server]


POSTGRES_URL = os.environ.get(
    "MANIFESTDB_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test"
)
# The suites that run against every backend (issue 8: the whole API suite, on both).
BOTH_BACKENDS = ("tests/api/",)


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as error:
        return f"PostgreSQL is not reachable at {POSTGRES_URL} ({type(error).__name__}: {error})"


class PostgresDatabases:
    """Fresh databases for one test session, dropped at its end."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create(self) -> str:
        import psycopg

        name = f"manifestdb_test_{os.getpid()}_{len(self.created)}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            for name in self.created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_until(condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """Poll `condition` every 50 ms until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what or "timed out"
        time.sleep(0.05)


def wait_for_status(client: Any, dataset_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    """DescribeDataset's description once the dataset is no longer *_IN_PROGRESS."""
    deadline = time.monotonic() + timeout
    while True:
        description = client.describe_dataset(DatasetArn=dataset_arn)["DatasetDescription"]
        if not description["Status"].endswith("IN_PROGRESS"):
            return dict(description)
        if time.monotonic() > deadline:
            raise AssertionError(f"still {description['Status']} after {timeout}s")
        time.sleep(0.05)


def new_dataset(
    client: Any, lines: bytes | None = None, dataset_type: str = "TRAIN", project: str | None = None
) -> tuple[str, str]:
    """(project ARN, dataset ARN) of a new dataset, with `lines` applied and waited for."""
    project_arn = (
        project or client.create_project(ProjectName=f"p-{uuid.uuid4().hex[:12]}")["ProjectArn"]
    )
    dataset_arn = client.create_dataset(ProjectArn=project_arn, DatasetType=dataset_type)[
        "DatasetArn"
    ]
    if lines is not None:
        client.update_dataset_entries(DatasetArn=dataset_arn, Changes={"GroundTruth": lines})
        wait_for_status(client, dataset_arn)
    return project_arn, dataset_arn


def all_entries(client: Any, dataset_arn: str, **filters: Any) -> list[dict[str, Any]]:
    """Every entry of a dataset (parsed), through boto3's paginator."""
    import orjson

    paginator = client.get_paginator("list_dataset_entries")
    return [
        orjson.loads(entry)
        for page in paginator.paginate(DatasetArn=dataset_arn, **filters)
        for entry in page["DatasetEntries"]
    ]
