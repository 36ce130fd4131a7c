"""Fixtures that start real `manifestdb serve` processes on loopback and give boto3 clients, and
TESTS_OF, the map of which tests prove which part of the source."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from manifestdb.harness import PostgresDatabases, postgres_problem
from support.server import BOTH_BACKENDS, POSTGRES_URL, Server, ServerFactory

# Which tests prove each part of src/manifestdb: every package and every top-level module has an
# entry (tests/test_layout.py holds the table to the tree), so a change to a part says which tests
# to run first, and a part without tests shows.
TESTS_OF: dict[str, tuple[str, ...]] = {
    "models": ("tests/models",),
    "wire": ("tests/wire", "tests/api/test_raw_http.py", "tests/auth", "tests/reliability"),
    "service": (
        "tests/api",
        "tests/auth/test_accounts.py",
        "tests/auth/test_policy_matrix.py",
        "tests/console/test_console_images.py",
        "tests/history",
        "tests/models/test_model_api.py",
        "tests/models/test_model_policy.py",
    ),
    "store": ("tests/store", "tests/cluster", "tests/history"),
    "jobs": (
        "tests/api/test_update_dataset_entries.py",
        "tests/api/test_distribute.py",
        "tests/api/test_restart.py",
        "tests/store/test_job_leases.py",
        "tests/store/test_job_engine_helper.py",
        "tests/reliability",
        "tests/cluster",
        "tests/history",
        "tests/models/test_model_jobs.py",
        "tests/models/test_model_workers.py",
    ),
    "manifest": ("tests/manifest", "tests/cli/test_validate.py"),
    "manifest/formats": ("tests/formats",),
    "commands": (
        "tests/toolkit/test_push.py",
        "tests/toolkit/test_export.py",
        "tests/cli/test_validate.py",
        "tests/formats/test_formats_convert_command.py",
        "tests/cluster/test_cluster.py",
        "tests/history/test_history_cli.py",
    ),
    "console": ("tests/console", "tests/wire/test_pipeline.py"),
    "harness": ("tests/harness", "tests/toolkit/test_pytest_plugin.py"),
    "cli.py": ("tests/cli", "tests/auth/test_serve_auth.py"),
    "config.py": ("tests/cli/test_serve.py", "tests/auth/test_serve_auth.py"),
    "states.py": ("tests/test_states.py",),
    "client.py": ("tests/history",),
    "objects.py": ("tests/api/test_s3_manifest.py", "tests/api/test_datasets.py"),
    "inprocess.py": ("tests/toolkit/test_mock.py", "tests/toolkit/test_mock_user.py"),
    "testing.py": ("tests/toolkit/test_mock.py", "tests/toolkit/test_mock_user.py"),
    "pytest_plugin.py": ("tests/toolkit/test_pytest_plugin.py",),
}


@pytest.fixture(scope="session")
def tests_of() -> dict[str, tuple[str, ...]]:
    """TESTS_OF: source package or module (under src/manifestdb) -> the tests that prove it."""
    return TESTS_OF


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
        params = callspec.params if callspec is not None else {}
        if "postgres" in (params.get("backend"), params.get("engine")):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The database servers are started on: "sqlite" (embedded) or "postgres"."""
    name = str(getattr(request, "param", "sqlite"))
    if name == "postgres":
        problem = postgres_problem(POSTGRES_URL)
        if problem:
            pytest.skip(problem)
    return name


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[ServerFactory]:
    """Start a server with extra `serve` arguments; every server is stopped at the end."""
    started: list[Server] = []
    databases = PostgresDatabases(POSTGRES_URL)

    def start(
        *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None
    ) -> Server:
        directory = data_dir or tmp_path_factory.mktemp("data")
        server = Server(directory, args, env=env)
        if backend == "postgres":
            server.database_url = databases.create()
            # Short leases: a killed server's job is claimed again within seconds.
            server.lease_seconds = 3.0
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
def database() -> Iterator[str]:
    """A fresh PostgreSQL database's URL, dropped after the test (skipped where none runs)."""
    problem = postgres_problem(POSTGRES_URL)
    if problem:
        pytest.skip(problem)
    databases = PostgresDatabases(POSTGRES_URL)
    yield databases.create()
    databases.drop_all()


@pytest.fixture
def project_name() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


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
    problem = postgres_problem(POSTGRES_URL) if skipped else None
    # A server that answers: the skips are the tests' own (e.g. a file mode root reads anyway).
    where = f" ({problem})" if problem else " (each for its own reason: -rs lists them)"
    where = where if skipped else ""
    terminalreporter.write_line(
        f"PostgreSQL: {ran} tests ran against PostgreSQL, {skipped} skipped{where}"
    )
