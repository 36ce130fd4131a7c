"""A real `manifestdb serve` subprocess for the benchmarks, a small JSON 1.1 client, and fresh
PostgreSQL databases for `--backend postgresql`.

The client is urllib3 with keep-alive and orjson, not boto3: boto3 spends ~1-2 ms of client CPU
per call, as much as the latencies being measured.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import urllib3

HEADERS = {"Content-Type": "application/x-amz-json-1.1"}
TARGET = "RekognitionService."


class BenchError(RuntimeError):
    """The server made a measurement impossible (an error status, a failed job, a timeout)."""


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the benchmark process dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int, field: str) -> int:
    """A `/proc/<pid>/status` field in bytes (VmRSS, VmHWM), 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for raw in handle:
                if raw.startswith(field.encode() + b":"):
                    return int(raw.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def children(pid: int) -> list[int]:
    """The pids of a process's children (the server's engine helper)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def tree_status(pid: int, field: str, helpers: list[int] | None = None) -> int:
    """`proc_status` summed over a process and its children: the server's memory includes its
    engine helper's (`manifestdb.jobs.engine`). `helpers`: the children, if already known."""
    return proc_status(pid, field) + sum(
        proc_status(child, field) for child in (children(pid) if helpers is None else helpers)
    )


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process (all its threads), in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_quiet(pid: int, window: float = 0.1, limit: float = 10.0) -> float:
    """Wait until a process has used (almost) no CPU for `window` seconds; the seconds waited.

    The server checkpoints its WAL in a background thread after each commit. The floor runs
    its checkpoint off the clock, so a timed change starts once the previous one's has ended.
    """
    started = time.monotonic()
    before = cpu_ticks(pid)
    while time.monotonic() - started < limit:
        time.sleep(window)
        now = cpu_ticks(pid)
        if now - before <= 1:
            break
        before = now
    return time.monotonic() - started


def wait_database_quiet(url: str, limit: float = 10.0) -> float:
    """PostgreSQL: wait until no other session of the database at `url` is running a statement;
    the seconds waited.

    After each job the server merges the trigram index's pending list: PostgreSQL's work, on
    no CPU of the server's process, so `wait_quiet` does not see it. As with SQLite's WAL
    checkpoint, a timed change starts once the previous one's has ended.
    """
    import psycopg

    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as connection:
        while time.monotonic() - started < limit:
            busy = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND pid <> pg_backend_pid()"
            ).fetchall()[0][0]
            if not busy:
                break
            time.sleep(0.01)
    return time.monotonic() - started


class RssSampler:
    """The peak VmRSS of a process and its children (summed) over a block, sampled every
    `interval` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._helpers = children(pid)  # listed once: the sampling stays cheap
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        return tree_status(self.pid, "VmRSS", self._helpers)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


class RawClient:
    """One keep-alive HTTP/1.1 connection that sends one prebuilt request again and again, as
    wrk does: a few microseconds of client CPU per request where urllib3 spends ~0.5 ms. The
    clients share the server's two cores, so a heavy client measures itself."""

    def __init__(self, url: str, operation: str, body: bytes, timeout: float = 60.0) -> None:
        host, _, port = url.split("//", 1)[1].rstrip("/").partition(":")
        self.address = (host, int(port or 80))
        self.request = (
            f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"X-Amz-Target: {TARGET}{operation}\r\n"
            f"Content-Type: {HEADERS['Content-Type']}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.pending = b""

    def send(self) -> tuple[int, bytes]:
        """The status and body of one request (a new connection if the last one closed)."""
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.pending = b""
        try:
            self.sock.sendall(self.request)
            data = self.pending
            while b"\r\n\r\n" not in data:
                data += self._recv()
            head, _, rest = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(rest) < length:
                rest += self._recv()
            self.pending = rest[length:]
            if b"connection: close" in head.lower():
                self.close()
            return int(head.split(b" ", 2)[1]), rest[:length]
        except BaseException:
            self.close()
            raise

    def _recv(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-response")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Client:
    """POSTs JSON 1.1 requests; `call` raises BenchError on anything but HTTP 200."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url
        self.http = urllib3.PoolManager(
            maxsize=1, retries=False, timeout=urllib3.Timeout(connect=5.0, read=timeout)
        )

    def raw(self, operation: str, body: bytes) -> tuple[int, bytes]:
        headers = {**HEADERS, "X-Amz-Target": TARGET + operation}
        response = self.http.request("POST", self.url, body=body, headers=headers)
        return response.status, response.data

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        status, data = self.raw(operation, orjson.dumps(params))
        if status != 200:
            raise BenchError(f"{operation} answered HTTP {status}: {data[:500]!r}")
        result: dict[str, Any] = orjson.loads(data) if data else {}
        return result

    def get(self, path: str) -> Any:
        response = self.http.request("GET", self.url.rstrip("/") + path)
        if response.status != 200:
            raise BenchError(f"GET {path} answered HTTP {response.status}: {response.data[:500]!r}")
        return orjson.loads(response.data)

    def describe(self, arn: str) -> dict[str, Any]:
        description: dict[str, Any] = self.call("DescribeDataset", {"DatasetArn": arn})[
            "DatasetDescription"
        ]
        return description

    def wait_settled(self, arn: str, timeout: float, poll: float = 0.005) -> dict[str, Any]:
        """Poll DescribeDataset until the status is no longer *_IN_PROGRESS."""
        deadline = time.perf_counter() + timeout
        while True:
            description = self.describe(arn)
            if not str(description["Status"]).endswith("IN_PROGRESS"):
                return description
            if time.perf_counter() > deadline:
                raise BenchError(f"{arn} still {description['Status']} after {timeout:.0f} s")
            time.sleep(poll)

    def wait_gone(self, arn: str, timeout: float = 120.0) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            status, data = self.raw("DescribeDataset", orjson.dumps({"DatasetArn": arn}))
            if status == 400 and b"ResourceNotFoundException" in data:
                return
            if status not in (200, 400):
                raise BenchError(f"DescribeDataset answered HTTP {status}: {data[:300]!r}")
            time.sleep(0.01)
        raise BenchError(f"{arn} was not deleted after {timeout:.0f} s")

    def last_report(self, arn: str) -> dict[str, Any]:
        """The newest update report of a dataset (manifestdb's own endpoint), {} if none."""
        try:
            found = self.get(f"/_manifestdb/datasets/{arn}/updates?max_results=1")
        except BenchError:
            return {}
        reports = found.get("Updates") or []
        return dict(reports[0]) if reports else {}


class Server:
    """`manifestdb serve` on a free port, with `--limits relaxed`; always stopped on exit.
    With a `database_url`, the data lives in that PostgreSQL database (the data directory is
    still created, but holds no data)."""

    def __init__(
        self,
        data_dir: Path,
        local_buckets: Path | None = None,
        log: Path | None = None,
        database_url: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.local_buckets = local_buckets
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log or data_dir.parent / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> Server:
        command = [
            sys.executable,
            "-m",
            "manifestdb.cli",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "warning",
            "--limits",
            "relaxed",
        ]
        if self.local_buckets is not None:
            command += ["--local-buckets", str(self.local_buckets)]
        if self.database_url is not None:
            command += ["--database-url", self.database_url]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MANIFESTDB_")}
        with self.log_path.open("ab") as log:
            # Its own session: a Ctrl-C reaches the benchmark, which stops the server in order.
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        http = urllib3.PoolManager(retries=False, timeout=2.0)
        deadline = time.perf_counter() + timeout
        try:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise BenchError(
                        f"the server exited with {self.process.returncode}: {self.log_tail()}"
                    )
                with contextlib.suppress(urllib3.exceptions.HTTPError):
                    health = http.request("GET", self.url + "_manifestdb/health")
                    if health.status == 200:
                        return self
                time.sleep(0.05)
            raise BenchError(f"the server did not answer within {timeout:.0f} s")
        except BaseException:
            self.stop()
            raise

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def rss(self) -> int:
        """VmRSS of the server and its engine helper."""
        return tree_status(self.pid, "VmRSS")

    def hwm(self) -> int:
        """VmHWM of the server plus its engine helper's (each one's own peak)."""
        return tree_status(self.pid, "VmHWM")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s, by the PID started here (its own process group)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class PostgresDatabases:
    """Fresh databases `manifestdb_bench_<pid>_<n>` on the PostgreSQL server of `admin_url` (an
    existing database, used only to create and drop them); `drop_all` at the end, also on
    failure. Databases left by a benchmark that was killed (its PID gone) are dropped first."""

    PREFIX = "manifestdb_bench_"

    def __init__(self, admin_url: str) -> None:
        import psycopg

        self.admin_url = admin_url
        self.created: list[str] = []
        self.count = 0
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:

            def show(name: str) -> str:
                return str(connection.execute(f"SHOW {name}").fetchall()[0][0])

            self.version = show("server_version")
            self.settings = {
                name: show(name) for name in ("shared_buffers", "synchronous_commit", "autovacuum")
            }
            names = connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (self.PREFIX + "%",)
            ).fetchall()
            for (name,) in names:
                found = re.fullmatch(self.PREFIX + r"(\d+)_\d+", name)
                if found and not Path(f"/proc/{found[1]}").exists():
                    connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        """The admin URL with its database replaced by `name` (user, host, query kept)."""
        base, _, query = self.admin_url.partition("?")
        return base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")

    def create(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"{self.PREFIX}{os.getpid()}_{self.count}"
        self.count += 1
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a database made by `create` (its servers should be stopped first)."""
        import psycopg

        name = url.partition("?")[0].rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with contextlib.suppress(ValueError):
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            with contextlib.suppress(Exception):
                self.drop(self.url(name))
