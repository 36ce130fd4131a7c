"""Fixtures that start real `manifestdb serve` processes on loopback and give boto3 clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
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


def _postgres_problem() -> str | None:
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of BOTH_BACKENDS run once per backend; the others on SQLite only."""
    if "backend" in metafunc.fixturenames:
        path = str(metafunc.definition.path.relative_to(Path(__file__).parent.parent))
        both = path.startswith(BOTH_BACKENDS)
        params = ["sqlite", "postgres"] if both else ["sqlite"]
        metafunc.parametrize("backend", params, indirect=True, scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgres":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The database servers are started on: "sqlite" (embedded) or "postgres"."""
    name = str(getattr(request, "param", "sqlite"))
    if name == "postgres":
        problem = _postgres_problem()
        if problem:
            pytest.skip(problem)
    return name


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[ServerFactory]:
    """Start a server with extra `serve` arguments; every server is stopped at the end."""
    started: list[Server] = []
    databases = PostgresDatabases()

    def start(
        *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None
    ) -> Server:
        directory = data_dir or tmp_path_factory.mktemp("data")
        backend_args: list[str] = []
        if backend == "postgres":
            # Short leases: a killed server's job is claimed again within seconds.
            backend_args = ["--database-url", databases.create(), "--lease-seconds", "3"]
        server = Server(directory, list(args), {**os.environ, **(env or {})}, backend_args)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()
    if databases.created:
        databases.drop_all()


@pytest.fixture(scope="session")
def server(start_server: ServerFactory) -> Server:
    """One shared server for tests that create their own projects."""
    return start_server()


@pytest.fixture(scope="session")
def rekognition(server: Server) -> Any:
    return server.client()


@pytest.fixture
def project_name() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many tests ran against PostgreSQL, so a skipped backend cannot go unnoticed."""
    ran = skipped = 0
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            counted = report.when == "call" or outcome == "skipped"
            if counted and "postgres" in getattr(report, "keywords", {}):
                if outcome == "skipped":
                    skipped += 1
                else:
                    ran += 1
    where = f" (skipped: {_postgres_problem()})" if skipped else ""
    terminalreporter.write_line(
        f"PostgreSQL: {ran} tests ran against PostgreSQL, {skipped} skipped{where}"
    )
