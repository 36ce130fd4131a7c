"""manifestdb.harness.ServerProcess: start, health, restart on the same port and data, a port
taken meanwhile, exit codes, the log of each start, and what environment a server gets."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from manifestdb.harness import ServerProcess, ServerStartError, free_port, server_environment


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another socket listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_server_starts_answers_and_stops_cleanly(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    with server:
        assert server.healthy()
        assert os.path.exists(f"/proc/{server.pid}")
        assert server.client().describe_projects()["ProjectDescriptions"] == []
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.stop() == 0  # SIGTERM: a clean exit
    assert server.process is None and server.stop() is None


def test_a_restart_keeps_the_port_and_the_data_and_log_gives_only_its_start(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        port = server.port
        arn = server.client().create_project(ProjectName="kept")["ProjectArn"]
        assert "CreateProject 200" in server.log()
        assert server.kill() == -signal.SIGKILL
        server.start()
        assert server.port == port
        projects = server.client().describe_projects()["ProjectDescriptions"]
        assert [project["ProjectArn"] for project in projects] == [arn]
        assert "CreateProject" not in server.log()  # the first start's lines are not this one's
        assert "CreateProject 200" in server.log_path.read_text()  # but still in the file
    finally:
        server.stop()


def test_a_port_taken_before_the_bind_is_tried_again_on_a_new_one(
    tmp_path: Path, taken_port: int
) -> None:
    server = ServerProcess(tmp_path / "data")
    server.port = taken_port  # as if another process took the free port meanwhile
    with server:
        assert server.port != taken_port
        assert server.healthy()


def test_a_given_port_that_is_taken_fails_with_the_servers_log(
    tmp_path: Path, taken_port: int
) -> None:
    server = ServerProcess(tmp_path / "data", port=taken_port)
    with pytest.raises(ServerStartError, match="address already in use"):
        server.start()
    assert server.process is None


def test_a_server_that_cannot_start_fails_at_once_with_its_exit_code(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", ["--limits", "huge"], start_timeout=60)
    with pytest.raises(ServerStartError, match=r"exited with 2(.|\n)*--limits"):
        server.start()


def test_the_console_script_and_typed_options_make_the_command_line(tmp_path: Path) -> None:
    auth_file = tmp_path / "auth.json"
    server = ServerProcess(
        tmp_path / "data",
        ["--job-delay", "0"],
        database_url="postgresql://u@h/d",
        lease_seconds=2,
        auth_file=auth_file,
        log_level="warning",
        console_script=True,
        port=1234,
    )
    assert server.command()[1:] == [
        "serve",
        "--port",
        "1234",
        "--data-dir",
        str(tmp_path / "data"),
        "--database-url",
        "postgresql://u@h/d",
        "--lease-seconds",
        "2",
        "--auth",
        "sigv4",
        "--auth-file",
        str(auth_file),
        "--log-level",
        "warning",
        "--job-delay",
        "0",
    ]
    assert Path(server.command()[0]).name == "manifestdb"
    server = ServerProcess(tmp_path / "script", console_script=True)
    with server:
        assert server.client().describe_projects()["ProjectDescriptions"] == []


def test_free_port_is_free() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_server_gets_no_manifestdb_setting_of_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANIFESTDB_DATABASE_URL", "postgresql://somewhere/else")
    monkeypatch.setenv("HARNESS_TEST_VARIABLE", "kept")
    environment = server_environment({"MANIFESTDB_LIMITS": "relaxed"})
    assert "MANIFESTDB_DATABASE_URL" not in environment
    assert environment["MANIFESTDB_LIMITS"] == "relaxed"
    assert environment["HARNESS_TEST_VARIABLE"] == "kept"
