"""The benchmarks' `manifestdb serve` (manifestdb.harness.ServerProcess, with relaxed limits and
memory readings), a small JSON 1.1 client, and fresh PostgreSQL databases for
`--backend postgresql`.

The client is urllib3 with keep-alive and orjson, not boto3: boto3 spends ~1-2 ms of client CPU
per call, as much as the latencies being measured.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import urllib3

from manifestdb.harness import PostgresDatabases, ServerProcess, ServerStartError

HEADERS = {"Content-Type": "application/x-amz-json-1.1"}
TARGET = "RekognitionService."


class BenchError(RuntimeError):
    """The server made a measurement impossible (an error status, a failed job, a timeout)."""


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


class Client:
    """POSTs JSON 1.1 requests; `call` raises BenchError on anything but HTTP 200."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/") + "/"
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


class Server(ServerProcess):
    """`manifestdb serve` on a free port, with `--limits relaxed`; always stopped on exit.
    With a `database_url`, the data lives in that PostgreSQL database (the data directory is
    still created, but holds no data). `env` adds to its environment (bench/ab.py runs another
    revision's code with `PYTHONPATH`); `options` are further `serve` options. It runs in its
    own session, so a Ctrl-C reaches the benchmark, which stops the server in order; and it gets
    SIGTERM if the benchmark dies."""

    def __init__(
        self,
        data_dir: Path,
        local_buckets: Path | None = None,
        log: Path | None = None,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        options: Sequence[str] = (),
    ) -> None:
        args = ["--limits", "relaxed", *options]
        if local_buckets is not None:
            args += ["--local-buckets", str(local_buckets)]
        super().__init__(
            data_dir,
            args,
            database_url=database_url,
            env=env,
            log_level="warning",
            log_path=log,
            new_session=True,
            die_with_parent=True,
            start_timeout=60.0,
        )

    def start(self) -> Server:
        try:
            super().start()
        except ServerStartError as error:
            raise BenchError(str(error)) from None
        return self

    def rss(self) -> int:
        """VmRSS of the server and its engine helper."""
        return tree_status(self.pid, "VmRSS")

    def hwm(self) -> int:
        """VmHWM of the server plus its engine helper's (each one's own peak)."""
        return tree_status(self.pid, "VmHWM")


class BenchDatabases(PostgresDatabases):
    """Fresh databases `manifestdb_bench_<pid>_<n>_<tag>` on the PostgreSQL server of
    `admin_url`; those left by a benchmark that was killed (its PID gone) are dropped first.
    `version` and `settings` describe the server for the results."""

    def __init__(self, admin_url: str) -> None:
        super().__init__(admin_url, prefix="manifestdb_bench_")
        self.drop_abandoned()
        found = self.server_settings(
            "server_version", "shared_buffers", "synchronous_commit", "autovacuum"
        )
        self.version = found.pop("server_version")
        self.settings = found
