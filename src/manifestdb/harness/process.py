"""`manifestdb serve` as a subprocess on loopback: the one launcher of tests, benchmarks and the
pytest plugin; `WorkerProcess` is `manifestdb worker` beside it. Standard library only; boto3 is
imported when a client is asked for."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

HEALTH_PATH = "/_manifestdb/health"
CLIENT_REGION = "us-east-1"
PLACEHOLDER_KEY = "testing"  # with --auth off any key is taken (as account 123456789012)
# What uvicorn logs when another process took the port between `free_port` and the bind.
_PORT_TAKEN = "address already in use"


class ServerStartError(RuntimeError):
    """`manifestdb serve` exited, or did not answer its health check in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at this moment (another process may still take it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its `MANIFESTDB_*` settings, plus `extra`: a server
    takes its settings from its arguments, not from the shell that runs the tests."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("MANIFESTDB_")}
    return {**base, **(extra or {})}


class ServerProcess:
    """One `manifestdb serve` subprocess on 127.0.0.1; `start` again after `stop` to restart it
    on the same port and data.

    `args` are further `serve` options (a test may change them between starts); `env` adds to
    the environment of `server_environment`. With `port_flag=False` no `--port` is passed and
    `port` must say where the server listens (from `MANIFESTDB_PORT` in `env`). The log of
    every start is appended to `log_path`; `log()` gives the current start's part.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        database_url: str | None = None,
        lease_seconds: float | None = None,
        auth_file: Path | None = None,
        log_level: str | None = None,
        port: int = 0,
        port_flag: bool = True,
        log_path: Path | None = None,
        console_script: bool = False,
        new_session: bool = False,
        die_with_parent: bool = False,
        start_timeout: float = 30.0,
        start_attempts: int = 3,
    ) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.env = server_environment(env)
        self.database_url = database_url
        self.lease_seconds = lease_seconds
        self.auth_file = auth_file
        self.log_level = log_level
        self.port = port
        self.port_flag = port_flag
        self.fixed_port = bool(port)
        self.log_path = log_path or self._default_log_path()
        self.console_script = console_script
        self.new_session = new_session
        self.die_with_parent = die_with_parent
        self.start_timeout = start_timeout
        self.start_attempts = start_attempts
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def _default_log_path(self) -> Path:
        directory = (
            self.data_dir.parent if self.data_dir is not None else Path(tempfile.gettempdir())
        )
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"manifestdb-server-{uuid.uuid4().hex[:8]}.log"

    @property
    def url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The process id of the running server."""
        assert self.process is not None, "the server is not running"
        return self.process.pid

    def command(self) -> list[str]:
        """The command line of the next start."""
        if self.console_script:
            command = [str(Path(sys.executable).parent / "manifestdb"), "serve"]
        else:
            command = [sys.executable, "-m", "manifestdb.cli", "serve"]
        if self.port_flag:
            command += ["--port", str(self.port)]
        if self.data_dir is not None:
            command += ["--data-dir", str(self.data_dir)]
        if self.database_url is not None:
            command += ["--database-url", self.database_url]
        if self.lease_seconds is not None:
            command += ["--lease-seconds", str(self.lease_seconds)]
        if self.auth_file is not None:
            command += ["--auth", "sigv4", "--auth-file", str(self.auth_file)]
        if self.log_level is not None:
            command += ["--log-level", self.log_level]
        return [*command, *self.args]

    def start(self) -> ServerProcess:
        """Start and wait for the health check; on a port another process took meanwhile, try
        again on a new one (unless the port was given)."""
        for attempt in range(self.start_attempts):
            if not self.port or (attempt and not self.fixed_port):
                self.port = free_port()
            self._launch()
            problem = self._wait_healthy()
            if problem is None:
                return self
            self.stop()
            port_taken = _PORT_TAKEN in self.log().lower()
            if not port_taken or self.fixed_port or attempt == self.start_attempts - 1:
                raise ServerStartError(f"manifestdb serve {problem}; its log:\n{self.log_tail()}")
        raise AssertionError("unreachable")

    def _launch(self) -> None:
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=self.new_session,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )

    def _wait_healthy(self) -> str | None:
        """None once `/_manifestdb/health` answers 200, else what went wrong."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                return f"exited with {code}"
            if self.healthy():
                return None
            time.sleep(0.05)
        return f"did not answer {HEALTH_PATH} within {self.start_timeout:.0f} s"

    def healthy(self) -> bool:
        """Whether the server answers its health check with 200 now."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            connection.request("GET", HEALTH_PATH)
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send `sig` and wait up to `timeout` s (then SIGKILL); the exit code, None if the
        server was not started."""
        process, self.process = self.process, None
        return None if process is None else _end(process, sig, timeout)

    def kill(self) -> int | None:
        """SIGKILL: a crash, as far as the server can tell."""
        return self.stop(signal.SIGKILL)

    def log(self) -> str:
        """What the server wrote since its last start."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, chars: int = 4000) -> str:
        """The end of `log()`."""
        return self.log()[-chars:]

    def client(self, **config: Any) -> Any:
        """A boto3 Rekognition client of this server, one attempt per call; `config` goes to
        botocore's Config."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "rekognition",
            endpoint_url=self.url,
            config=Config(**{"retries": {"max_attempts": 1}, **config}),
            region_name=CLIENT_REGION,
            aws_access_key_id=PLACEHOLDER_KEY,
            aws_secret_access_key=PLACEHOLDER_KEY,
        )

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class WorkerProcess:
    """One `manifestdb worker` subprocess applying the jobs of the PostgreSQL database at
    `database_url` (`args`: further `worker` options), its output written to `log_path`.
    Started at construction; `stop` sends SIGTERM and waits (then SIGKILL)."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.log_path = log_path
        command = [sys.executable, "-m", "manifestdb.cli", "worker"]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "--database-url", database_url, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_environment(env),
                preexec_fn=_die_with_parent if die_with_parent else None,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 30.0) -> int:
        return _end(self.process, signal.SIGTERM, timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _end(process: subprocess.Popen[bytes], sig: int, timeout: float) -> int:
    """Send `sig` to a running `process` and wait up to `timeout` s (then SIGKILL); its exit
    code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies, even by SIGKILL (Linux only)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
