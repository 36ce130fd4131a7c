"""manifestdb benchmarks, over HTTP against real `manifestdb serve` subprocesses.

    python bench/run.py [--quick] [--entries N] [--runs R] [--no-curve] [--no-docs]
                        [--backend sqlite|postgresql] [--database-url URL]

Full: N = 1,000,000 entries (< 10 min on 2 cores); --quick: N = 100,000 (< 2 min). Every figure
of the issue's table is measured (see docs/benchmarks.md), printed as a markdown table of
figure / measured / target / ratio, written as JSON under bench/results/, and plotted (PNG).
Generated manifests are cached under bench/.cache/ (~1.1 GB for the full run).

--backend postgresql: the servers keep their data in PostgreSQL (`--database-url`), each phase
that SQLite gives a fresh data directory getting a fresh database `manifestdb_bench_<pid>_<n>`,
created through --database-url (an existing database of the PostgreSQL server to use) and
dropped at the end, also on failure; the floor is bench/floor_pg.py.

Phases, each reported on its own if it fails (a server error makes a figure "not measured",
with the reason, instead of stopping the suite):
1. validate: `manifestdb validate` on a generated manifest, pinned to one core;
2. create: CreateDataset from an N-line manifest read through `--local-buckets` (a fresh
   server: lines/s and the peak RSS of the server during the create);
3. read: a fresh server on that data: idle RSS, DescribeDataset / ListDatasetLabels /
   ListDatasetEntries latencies (p50, p99), a deep page reached by following tokens,
   DescribeDataset requests/s with 8 client processes;
4. change: 5 MiB changes (half new lines, half replacing random entries) into the N entries, call
   to UPDATE_COMPLETE, with the server's peak RSS; then into an empty dataset (fresh server);
5. curve: the same change at intermediate sizes (fresh data each), for the apply-vs-size plot;
6. floor: bench/floor.py on the same payloads (orjson + a bare SQLite upsert; PostgreSQL:
   bench/floor_pg.py).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import math
import multiprocessing
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from manifestdb.harness import RawClient, WorkerProcess

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import bench_console  # noqa: E402
import bench_history  # noqa: E402
import bench_ingest  # noqa: E402
import report  # noqa: E402
import spy  # noqa: E402
from report import Row  # noqa: E402
from server import (  # noqa: E402
    BenchDatabases,
    BenchError,
    Client,
    RssSampler,
    Server,
    wait_database_quiet,
    wait_quiet,
)

import data  # noqa: E402

MIB = 2**20
MIN_SAMPLES = 20  # timed requests of a latency figure, at the least (see `latency`)
DEFAULT_DATABASE_URL = "postgresql://root@127.0.0.1:5432/postgres"
MANIFEST_LINE_LIMIT = 250_000  # AWS's; --limits relaxed may or may not lift it for manifests
LIST_TARGET = [5.0, 50.0]
# DescribeDataset polling while a change applies: each poll takes the GIL from the job for ~1 ms,
# so polling harder slows the change it measures; 10 ms adds ~5 ms on average to a figure.
POLL = 0.01
# Back to back: this many changes in a row untimed, then B2B_TIMED timed (issue 20).
B2B_WARM = 10
B2B_TIMED = 3
B2B_SMALL = 100_000  # the smaller dataset of the back-to-back figures
PUSH_WORKERS = 2  # PostgreSQL: `manifestdb worker` processes applying the pushes


@dataclass(frozen=True)
class Config:
    quick: bool
    entries: int
    runs: int
    curve_runs: int
    latency_count: int
    latency_budget_s: float
    rps_seconds: float
    curve_sizes: tuple[int, ...]
    validate_lines: int
    walk_page: int
    create_timeout: float

    @staticmethod
    def make(options: argparse.Namespace) -> Config:
        quick = bool(options.quick)
        entries = options.entries or (100_000 if quick else 1_000_000)
        curve = (
            ()
            if options.no_curve
            else tuple(
                size
                for size in ((10_000, 25_000, 50_000) if quick else (100_000, 250_000, 500_000))
                if size < entries
            )
        )
        page = 5000 if entries >= 600_000 else max(2, entries // 100 * 9 // 10)
        return Config(
            quick=quick,
            entries=entries,
            runs=options.runs or (3 if quick else 5),
            curve_runs=3,
            latency_count=200 if quick else 400,
            latency_budget_s=5.0 if quick else 10.0,
            rps_seconds=4.0 if quick else 10.0,
            curve_sizes=curve,
            validate_lines=min(entries, MANIFEST_LINE_LIMIT),
            walk_page=page,
            # PostgreSQL's create is slower (docs/benchmarks.md): a longer wait, not a failure.
            create_timeout=120.0
            if quick
            else (900.0 if options.backend == "postgresql" else 420.0),
        )


def list_queries(entries: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(key, what, ListDatasetEntries filters) for N entries; every substring is chosen so the
    expected matches exist at any N >= 50,000 (see data.source_ref)."""
    rare_ref = f"img{entries * 7 // 10 + 3:08d}"
    return [
        ("list.none", "ListDatasetEntries, no filter", {}),
        ("list.label", "… one label", {"ContainsLabels": ["label-07"]}),
        (
            "list.labels_rare",
            "… three labels, one rare",
            {"ContainsLabels": ["label-11", "label-29", "rare-b"]},
        ),
        ("list.unlabeled", "… Labeled=false", {"Labeled": False}),
        ("list.errors", "… HasErrors=true", {"HasErrors": True}),
        (
            "list.contains_common",
            "… SourceRefContains common (10%)",
            {"SourceRefContains": "7.jpg"},
        ),
        (
            "list.contains_rare",
            "… SourceRefContains rare (1 entry)",
            {"SourceRefContains": rare_ref},
        ),
        (
            "list.contains_absent",
            "… SourceRefContains absent",
            {"SourceRefContains": "img09876543"},
        ),
        (
            "list.label_contains",
            "… one label AND SourceRefContains",
            {"ContainsLabels": ["label-03"], "SourceRefContains": "/0042/"},
        ),
    ]


def percentiles(times_ms: list[float]) -> dict[str, float]:
    ordered = sorted(times_ms)
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)],
        "max_ms": ordered[-1],
        "count": len(ordered),
    }


def latency(
    client: Client, operation: str, params: dict[str, Any], count: int, budget_s: float = math.inf
) -> dict[str, Any]:
    """Time `count` identical requests (after 10 untimed), client side, body read included; or
    fewer (at least MIN_SAMPLES) when they take more than `budget_s` in all: only a slow query
    reaches the cap (SQLite's take ~2 ms), and it keeps one slow query from taking minutes."""
    body = orjson.dumps(params)
    status, first = client.raw(operation, body)
    if status != 200:
        raise BenchError(f"{operation} {params} answered HTTP {status}: {first[:300]!r}")
    for _ in range(9):
        client.raw(operation, body)
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(count):
        started = time.perf_counter()
        status, answer = client.raw(operation, body)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise BenchError(f"{operation} answered HTTP {status}: {answer[:300]!r}")
        if len(times) >= MIN_SAMPLES and started > deadline:
            break
    result = percentiles(times)
    result["first"] = orjson.loads(first)
    return result


def _hammer(job: tuple[str, bytes, float, float]) -> tuple[int, int]:
    url, body, start_at, seconds = job
    client = RawClient(url, "DescribeDataset", body)
    time.sleep(max(0.0, start_at - time.monotonic()))
    done = errors = 0
    deadline = start_at + seconds
    while time.monotonic() < deadline:
        try:
            status, _ = client.send()
        except Exception:
            errors += 1
            continue
        if status == 200:
            done += 1
        else:
            errors += 1
    return done, errors


def _client_process() -> None:
    # The parent's SIGTERM handler (raise SystemExit) must not run in a worker: a worker blocked
    # on the pool's queue lock then never exits, and Pool.terminate() waits for it forever.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def throughput(url: str, arn: str, clients: int, seconds: float) -> dict[str, Any]:
    body = orjson.dumps({"DatasetArn": arn})
    start_at = time.monotonic() + 1.5
    context = multiprocessing.get_context("fork")
    pool = context.Pool(clients, initializer=_client_process)
    try:
        result = pool.map_async(_hammer, [(url, body, start_at, seconds)] * clients, chunksize=1)
        counts = result.get(timeout=seconds + 60)
    except BaseException:
        pool.terminate()
        pool.join()
        raise
    pool.close()
    pool.join()
    done = sum(c[0] for c in counts)
    return {"rps": done / seconds, "errors": sum(c[1] for c in counts), "per_client": counts}


def update_body(arn: str, payload: bytes) -> bytes:
    return orjson.dumps(
        {"DatasetArn": arn, "Changes": {"GroundTruth": base64.b64encode(payload).decode()}}
    )


def timed_update(
    server: Server,
    client: Client,
    arn: str,
    change: data.Change,
    expect_new: int,
    *,
    settle: bool = True,
) -> dict[str, Any]:
    """One change, call to UPDATE_COMPLETE; asserts it completed and added what it should.
    `settle`: first wait for the server (and database) to be quiet; False: back to back."""
    before = client.describe(arn)["DatasetStats"]["TotalEntries"]
    body = update_body(arn, change.payload)
    # The previous change's WAL checkpoint (SQLite) or index merge (PostgreSQL), off the clock.
    quiet_s = wait_quiet(server.pid) if settle else 0.0
    if settle and server.database_url is not None:
        quiet_s += wait_database_quiet(server.database_url)
    with RssSampler(server.pid) as sampler:
        started = time.perf_counter()
        status, answer = client.raw("UpdateDatasetEntries", body)
        called = time.perf_counter()
        if status != 200:
            raise BenchError(f"UpdateDatasetEntries answered HTTP {status}: {answer[:300]!r}")
        description = client.wait_settled(arn, timeout=120.0, poll=POLL)
        finished = time.perf_counter()
    if description["Status"] != "UPDATE_COMPLETE":
        raise BenchError(
            f"the change ended {description['Status']}: {description.get('StatusMessage')}"
        )
    after = description["DatasetStats"]["TotalEntries"]
    if after != before + expect_new:
        raise BenchError(f"the change took TotalEntries {before} -> {after}, not +{expect_new}")
    server_report = client.last_report(arn)
    return {
        "seconds": finished - started,
        "call_s": called - started,
        "server_apply_ms": server_report.get("duration_ms"),
        "added": server_report.get("added"),
        "replaced": server_report.get("replaced"),
        "lines": change.lines,
        "peak_rss": sampler.peak,
        "entries_before": before,
        "quiet_wait_s": quiet_s,
    }


def manifest_lines(path: Path, start: int, stop: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle):
            if number >= stop:
                return
            if number >= start:
                yield raw


def manifest_changes(path: Path, start: int, stop: int) -> Iterator[tuple[bytes, int]]:
    """Lines start..stop-1 of a manifest, as changes of at most 5 MiB (payload, line count)."""
    parts: list[bytes] = []
    size = 0
    for raw in manifest_lines(path, start, stop):
        if size + len(raw) > data.MAX_CHANGE_BYTES:
            yield b"".join(parts), len(parts)
            parts, size = [], 0
        parts.append(raw)
        size += len(raw)
    if parts:
        yield b"".join(parts), len(parts)


class Suite:
    def __init__(
        self,
        config: Config,
        work: Path,
        profile: Path | None = None,
        databases: BenchDatabases | None = None,
    ) -> None:
        self.config = config
        self.work = work
        self.profile = profile  # a path prefix for py-spy files, or None
        self.databases = databases  # PostgreSQL mode: where fresh databases come from
        self.main_url: str | None = None
        self.cache = BENCH / ".cache"
        self.buckets = self.cache / "buckets"
        self.bucket_dir = self.buckets / data.BUCKET
        self.results: dict[str, Any] = {"errors": {}, "phases_s": {}}
        self.rows: dict[str, Row] = {}
        self.main_changes: list[data.Change] = []
        self.curve_changes: dict[int, list[data.Change]] = {}
        self.b2b_changes: dict[int, list[data.Change]] = {}
        self.pushes: dict[str, list[tuple[float, float]]] = {}
        self.curve: dict[int, dict[str, Any]] = {}
        n = f"{config.entries:,}"
        self._row("change.empty", "5 MiB change into an empty dataset", "s", [0.4])
        self._row("change.n", f"5 MiB change into {n} entries", "s", [1.0])
        self._row("change.floor", f"… ÷ floor at {n} (same payloads)", "×", [2.5])
        postgres = databases is not None
        self.b2b_sizes = sorted({config.entries, min(B2B_SMALL, config.entries)})
        for size in self.b2b_sizes:
            key = self._b2b_key(size)
            self._row(
                key,
                f"5 MiB change into {size:,} entries, back to back after {B2B_WARM} others",
                "s",
                [1.0],
            )
            self._row(
                f"{key}.floor",
                "… ÷ floor, back to back (its checkpoints on the clock)",
                "×",
                [2.5 if postgres else 2.0],
            )
        self._row(
            "push.empty",
            f"`manifestdb push` of {n} lines into an empty dataset",
            "lines/s",
            [40000 if postgres else 60000],
            ">=",
        )
        self._row("push.create", "… its time ÷ CreateDataset's (same manifest)", "×", [1.3])
        self._row(
            "push.replacing",
            f"`manifestdb push` of {n} lines into {n} entries, half replacing",
            "lines/s",
            [40000],
            ">=",
        )
        self._row("push.rss", "… server peak RSS during the pushes", "MiB", [300])
        for key, what, _ in list_queries(config.entries):
            self._row(key, f"{what} (p50 / p99)", "ms", LIST_TARGET)
        self._row(
            "list.deep_page",
            f"… page {config.walk_page:,} reached by tokens (p50 / p99)",
            "ms",
            LIST_TARGET,
        )
        self._row("describe.p50", f"DescribeDataset, {n} entries (p50)", "ms", [2.0])
        self._row("labels.p50", f"ListDatasetLabels, {n} entries (p50)", "ms", [2.0])
        self._row("rps", "DescribeDataset req/s, 8 client processes", "req/s", [1500], ">=")
        self._row("create.rate", f"CreateDataset, {n}-line manifest", "lines/s", [30000], ">=")
        self._row("create.rss", "… server peak RSS during the create", "MiB", [300])
        self._row("validate.rate", "`manifestdb validate`, one core", "lines/s", [100000], ">=")
        self._row("rss.idle", f"server RSS idle, holding {n} entries", "MiB", [150])
        self._row("rss.change", "server peak RSS applying a 5 MiB change", "MiB", [250])
        self._row(
            "console.page",
            f"Console gallery data (100 entries), slowest filter, {n} entries (p50 / p99)",
            "ms",
            [50.0, 50.0],
        )
        self._row("history.versions", "ListDatasetVersions (p50)", "ms", [5.0])
        self._row("history.diff", "Diff of the last two versions (a 5 MiB change)", "ms", [100.0])
        self._row(
            "history.at_version",
            f"ListDatasetEntriesAtVersion ÷ ListDatasetEntries, worst filter, {n} entries (p50)",
            "×",
            [2.0],
        )
        self._row("history.bytes", "History kept by a 5 MiB change ÷ its size", "×", [1.2])
        self._row(
            "history.revert", "Revert of a 5 MiB change ÷ its apply (server side)", "×", [1.5]
        )
        self._row("console.thumb.cached", "Console thumbnail from the cache (p50)", "ms", [5.0])
        self._row(
            "console.thumb.first", "Console first thumbnail, 640 x 480 JPEG (p50)", "ms", [60.0]
        )
        self._row(
            "console.browser",
            "Console filter change to a drawn grid, Chromium (p50)",
            "ms",
            [300.0],
        )

    def _b2b_key(self, size: int) -> str:
        return "change.b2b" if size == self.config.entries else "change.b2b.small"

    def _row(self, key: str, what: str, unit: str, target: list[float], better: str = "<=") -> None:
        self.rows[key] = Row(key=key, what=what, unit=unit, target=target, better=better)

    def set(self, key: str, measured: list[float], note: str = "", **extra: Any) -> None:
        row = self.rows[key]
        row.measured = measured
        row.note = note
        row.error = None
        row.extra.update(extra)

    def phase(self, name: str, keys: list[str], step: Callable[[], None]) -> None:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            step()
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            self.results["errors"][name] = {"error": message, "trace": traceback.format_exc()}
            print(f"[bench] {name} FAILED: {message}", file=sys.stderr, flush=True)
            for key in keys:
                if key in self.rows and self.rows[key].measured is None:
                    self.rows[key].error = f"{name} failed: {message}"
        finally:
            elapsed = time.perf_counter() - started
            self.results["phases_s"][name] = round(elapsed, 1)
            print(f"[bench] {name}: {elapsed:.1f} s", file=sys.stderr, flush=True)

    def log(self, text: str) -> None:
        print(f"[bench]   {text}", file=sys.stderr, flush=True)

    @property
    def backend(self) -> str:
        return "sqlite" if self.databases is None else "postgresql"

    def fresh_database(self) -> str | None:
        """PostgreSQL mode: the URL of a new empty database (SQLite: None, the data dir is it)."""
        return None if self.databases is None else self.databases.create()

    def drop_database(self, url: str | None) -> None:
        if url is not None and self.databases is not None:
            self.databases.drop(url)

    @contextlib.contextmanager
    def fresh_server(
        self, name: str, options: Sequence[str] = ()
    ) -> Iterator[tuple[Server, Client, str]]:
        """A server on a fresh data directory (PostgreSQL: a fresh database) with one project:
        (server, client, project ARN); all of it stopped and removed at the end. `options`:
        further `serve` options."""
        data_dir = self.work / name
        data_dir.mkdir()
        url = self.fresh_database()
        try:
            log = self.work / f"server-{name}.log"
            with Server(
                data_dir, self.buckets, log=log, database_url=url, options=options
            ) as server:
                client = Client(server.url)
                project = client.call("CreateProject", {"ProjectName": name})["ProjectArn"]
                yield server, client, project
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
            self.drop_database(url)

    @contextlib.contextmanager
    def workers(self, server: Server, count: int) -> Iterator[list[WorkerProcess]]:
        """PostgreSQL: `count` `manifestdb worker` processes on the database of `server` (started
        `--no-runner`), with its limits; stopped at the end."""
        assert count == 0 or server.database_url is not None
        started = [
            WorkerProcess(
                str(server.database_url),
                self.work / f"worker-{index}.log",
                ["--limits", "relaxed", "--log-level", "warning"],
                die_with_parent=True,
            )
            for index in range(count)
        ]
        try:
            yield started
        finally:
            for worker in started:
                worker.stop()

    @contextlib.contextmanager
    def profiled(self, server: Server, name: str) -> Iterator[None]:
        """With --profile: py-spy on the server for the block, then a text summary."""
        if self.profile is None:
            yield
            return
        raw = self.profile.with_name(f"{self.profile.name}-{name}.txt")
        with spy.record(server.pid, raw):
            yield
        if raw.exists():
            summary = raw.with_suffix(".md")
            summary.write_text(spy.summarize(raw))
            self.log(f"profile: {summary.relative_to(ROOT)}")

    # -- data ----------------------------------------------------------------------------------

    def prepare(self) -> None:
        started = time.perf_counter()
        sizes = sorted({self.config.entries, self.config.validate_lines, *self.config.curve_sizes})
        for size in reversed(sizes):  # the largest first: the others are cut from it
            data.manifest(self.bucket_dir, size)
        if self.config.entries > MANIFEST_LINE_LIMIT:
            data.manifest(self.bucket_dir, MANIFEST_LINE_LIMIT)
        n = self.config.entries
        self.main_changes = [
            data.change(100 + run, n, data.NEW_INDEX_BASE + run * 20_000)
            for run in range(self.config.runs)
        ]
        for slot, size in enumerate(self.config.curve_sizes):
            self.curve_changes[size] = [
                data.change(
                    1000 + 10 * slot + run,
                    size,
                    data.NEW_INDEX_BASE + 1_000_000 * (slot + 1) + run * 20_000,
                )
                for run in range(self.config.curve_runs)
            ]
        self.b2b_changes = {
            size: bench_ingest.changes(size, B2B_WARM + B2B_TIMED, slot)
            for slot, size in enumerate(self.b2b_sizes)
        }
        first = self.main_changes[0]
        self.results["change"] = {
            "bytes": len(first.payload),
            "lines": first.lines,
            "new": first.new,
            "replacing": first.replacing,
        }
        self.log(
            f"data ready in {time.perf_counter() - started:.1f} s; a change: "
            f"{len(first.payload):,} bytes, {first.lines:,} lines "
            f"({first.new:,} new, {first.replacing:,} replacing)"
        )

    # -- validate ------------------------------------------------------------------------------

    def validate(self) -> None:
        if self.databases is not None and self._validate_from_sqlite():
            return
        path = data.manifest(self.bucket_dir, self.config.validate_lines)
        lines = self.config.validate_lines
        command = [sys.executable, "-m", "manifestdb.cli", "validate", "--limits", "relaxed"]
        if shutil.which("taskset"):
            command = ["taskset", "-c", "0", *command]
        times, cpu = [], []
        for _ in range(3):
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(
                [*command, str(path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=300,
                check=False,
            )
            times.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
            if done.returncode != 0:
                raise BenchError(
                    f"validate exited {done.returncode}: {done.stderr.decode()[-500:]}"
                )
        engine = self._engine_rate(path)
        median = statistics.median(times)
        self.set(
            "validate.rate",
            [lines / median],
            note=(
                f"CLI on {lines:,} lines, wall time incl. start-up; "
                f"{lines / statistics.median(cpu):,.0f} lines per CPU-second; "
                f"engine in-process {engine:,.0f} lines/s"
            ),
            runs_s=times,
            cpu_s=cpu,
            engine_lines_per_s=engine,
        )

    def _validate_from_sqlite(self) -> bool:
        """PostgreSQL mode: `manifestdb validate` reads no database, so the figure of the latest
        SQLite run of the same N is copied (with a note); False if there is none."""
        mode = "quick" if self.config.quick else "full"
        path = BENCH / "results" / f"latest-{mode}-sqlite.json"
        try:
            found = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return False
        row = next((r for r in found.get("rows", []) if r.get("key") == "validate.rate"), None)
        if found.get("entries") != self.config.entries or not row or not row.get("measured"):
            return False
        date = found.get("machine", {}).get("date", "?")
        self.set(
            "validate.rate",
            row["measured"],
            note=f"copied from the SQLite run of {date}: validate reads no database; {row['note']}",
            copied_from=str(path.relative_to(ROOT)),
        )
        self.log(f"validate: copied from {path.relative_to(ROOT)} ({date})")
        return True

    @staticmethod
    def _engine_rate(path: Path) -> float:
        from manifestdb.manifest import LIMIT_PROFILES, ChangeReader

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as handle:
                while chunk := handle.read(MIB):
                    yield chunk

        reader = ChangeReader(LIMIT_PROFILES["relaxed"], is_manifest=True)
        started = time.perf_counter()
        for _ in reader.read(chunks()):
            pass
        return reader.lines_read / (time.perf_counter() - started)

    # -- building a dataset --------------------------------------------------------------------

    def create(
        self, server: Server, client: Client, project: str, size: int
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        path = data.manifest(self.bucket_dir, size)
        body = {
            "ProjectArn": project,
            "DatasetType": "TRAIN",
            "DatasetSource": {
                "GroundTruthManifest": {"S3Object": {"Bucket": data.BUCKET, "Name": path.name}}
            },
        }
        with RssSampler(server.pid) as sampler:
            started = time.perf_counter()
            arn = str(client.call("CreateDataset", body)["DatasetArn"])
            description = client.wait_settled(arn, self.config.create_timeout, poll=0.1)
            seconds = time.perf_counter() - started
        info = {
            "lines": size,
            "seconds": seconds,
            "lines_per_s": size / seconds,
            "peak_rss": sampler.peak,
            "vm_hwm": server.hwm(),
            "status": description["Status"],
            "message": description.get("StatusMessage"),
            "server_apply_ms": client.last_report(arn).get("duration_ms"),
        }
        self.log(
            f"CreateDataset {size:,} lines: {description['Status']} in {seconds:.1f} s "
            f"({size / seconds:,.0f} lines/s), peak RSS {sampler.peak / MIB:.0f} MiB"
        )
        return arn, description, info

    def build(
        self, server: Server, client: Client, project: str, size: int
    ) -> tuple[str, dict[str, Any]]:
        """A TRAIN dataset holding manifest lines 0..size-1: CreateDataset from the manifest, or,
        when the server refuses that many manifest rows, from the largest manifest it takes and
        then 5 MiB updates of the following lines."""
        arn, description, info = self.create(server, client, project, size)
        built: dict[str, Any] = {"create": info}
        if description["Status"] != "CREATE_COMPLETE":
            message = str(description.get("StatusMessage"))
            if size <= MANIFEST_LINE_LIMIT or "ROWS_EXCEEDS" not in message:
                raise BenchError(
                    f"CreateDataset of {size:,} lines ended {info['status']}: " + message
                )
            built["refused"] = message
            client.call("DeleteDataset", {"DatasetArn": arn})
            client.wait_gone(arn)
            arn, description, fallback = self.create(server, client, project, MANIFEST_LINE_LIMIT)
            built["fallback_create"] = fallback
            if description["Status"] != "CREATE_COMPLETE":
                raise BenchError(
                    f"CreateDataset of {MANIFEST_LINE_LIMIT:,} lines ended "
                    f"{description['Status']}: {description.get('StatusMessage')}"
                )
            built["grow"] = self.grow(client, arn, size)
        total = client.describe(arn)["DatasetStats"]["TotalEntries"]
        if total != size:
            raise BenchError(f"the dataset holds {total:,} entries, not {size:,}")
        return arn, built

    def grow(self, client: Client, arn: str, size: int) -> dict[str, Any]:
        path = data.manifest(self.bucket_dir, size)
        started = time.perf_counter()
        times = []
        for count, (payload, lines) in enumerate(
            manifest_changes(path, MANIFEST_LINE_LIMIT, size), 1
        ):
            began = time.perf_counter()
            status, answer = client.raw("UpdateDatasetEntries", update_body(arn, payload))
            if status != 200:
                raise BenchError(f"UpdateDatasetEntries answered HTTP {status}: {answer[:300]!r}")
            description = client.wait_settled(arn, 120.0, poll=0.02)
            if description["Status"] != "UPDATE_COMPLETE":
                raise BenchError(f"a growing change ended {description['Status']}")
            times.append(time.perf_counter() - began)
            if count % 10 == 0:
                total = description["DatasetStats"]["TotalEntries"]
                self.log(f"grown to {total:,} entries ({lines} lines a change)")
        seconds = time.perf_counter() - started
        self.log(f"grew to {size:,} entries by {len(times)} changes in {seconds:.0f} s")
        return {"changes": len(times), "seconds": seconds, "change_s": times}

    # -- the N-entry dataset -------------------------------------------------------------------

    def main(self) -> None:
        n = self.config.entries
        data_dir = self.work / "main"
        data_dir.mkdir()
        self.main_url = url = self.fresh_database()
        log = self.work / "server-create.log"
        with Server(data_dir, self.buckets, log=log, database_url=url) as server:
            client = Client(server.url)
            project = client.call("CreateProject", {"ProjectName": "bench"})["ProjectArn"]
            self.results["create_at_start_rss"] = server.rss()
            with self.profiled(server, "create"):
                arn, built = self.build(server, client, project, n)
        self.results["build"] = built
        create = built["fallback_create"] if "refused" in built else built["create"]
        note = ""
        if "refused" in built:
            note = (
                f"{n:,}-line manifest REFUSED ({built['refused']}); measured on "
                f"{create['lines']:,} lines, the rest added by {built['grow']['changes']} updates"
            )
        self.set("create.rate", [create["lines_per_s"]], note=note, **create)
        self.set("create.rss", [create["peak_rss"] / MIB], note=note and "see above")
        self.arn = arn
        self.data_dir = data_dir

    def read(self, server: Server, client: Client) -> None:
        config, arn = self.config, self.arn
        time.sleep(1.0)
        fresh_rss = server.rss()
        stats = client.describe(arn)["DatasetStats"]
        if stats["TotalEntries"] != config.entries:
            raise BenchError(f"the dataset holds {stats['TotalEntries']:,} entries")
        self.results["dataset_stats"] = stats
        self.results["latency"] = found = {}
        count, budget = config.latency_count, config.latency_budget_s
        for key, operation in (
            ("describe.p50", "DescribeDataset"),
            ("labels.p50", "ListDatasetLabels"),
        ):
            result = latency(client, operation, {"DatasetArn": arn}, count, budget)
            result.pop("first")
            found[key] = result
            note = f"p99 {result['p99_ms']:.1f} ms" + self._capped(result)
            self.set(key, [result["p50_ms"]], note=note)
        for key, _, filters in list_queries(config.entries):
            try:
                result = latency(
                    client, "ListDatasetEntries", {"DatasetArn": arn, **filters}, count, budget
                )
            except BenchError as error:
                self.rows[key].error = str(error)
                continue
            entries = result.pop("first").get("DatasetEntries", [])
            result["rows"] = len(entries)
            found[key] = result
            expected_empty = key == "list.contains_absent"
            if (len(entries) == 0) != expected_empty:
                self.rows[key].error = f"{len(entries)} rows on the first page: wrong answer"
                continue
            note = f"{len(entries)} rows" + self._capped(result)
            self.set(key, [result["p50_ms"], result["p99_ms"]], note=note)
        self._deep_page(client, found)
        rps = throughput(server.url, arn, 8, config.rps_seconds)
        self.results["throughput"] = rps
        note = f"{rps['errors']} errors" if rps["errors"] else ""
        self.set("rps", [rps["rps"]], note=note)
        time.sleep(1.0)
        idle = server.rss()
        self.set(
            "rss.idle",
            [idle / MIB],
            note=f"after the reads; {fresh_rss / MIB:.0f} MiB freshly started",
            fresh_start=fresh_rss,
        )

    def read_and_change(self) -> None:
        """Reads, then changes, on one fresh server holding the N entries."""
        reads = [k for k in self.rows if k.startswith(("list.", "describe", "labels", "rps"))]
        log = self.work / "server-read.log"
        with Server(self.data_dir, self.buckets, log=log, database_url=self.main_url) as server:
            client = Client(server.url)
            self.phase("read", [*reads, "rss.idle"], lambda: self.read(server, client))
            self.phase(
                "console",
                [key for key in self.rows if key.startswith("console.")],
                lambda: self.console(server),
            )
            self.phase(
                "change",
                ["change.n", "change.floor", "rss.change"],
                lambda: self._changes(server, client),
            )
            self.phase(
                "history",
                [key for key in self.rows if key.startswith("history.")],
                lambda: self.history(server, client),
            )
            self.phase(
                "back-to-back",
                ["change.b2b", "change.b2b.floor"],
                lambda: self.back_to_back(server, client, self.arn, self.config.entries),
            )

    def back_to_back(self, server: Server, client: Client, arn: str, size: int) -> None:
        """Changes into a dataset of `size` entries, each sent once the previous one completed
        (bench/bench_ingest.py)."""
        key = self._b2b_key(size)
        sent = self.b2b_changes[size]
        found = bench_ingest.back_to_back(server, client, arn, sent, B2B_WARM, timed_update)
        self.results.setdefault("back_to_back", {})[str(size)] = found
        seconds = [run["seconds"] for run in found["runs"]]
        warm = found["warm_runs_s"]
        self.set(
            key,
            [statistics.median(seconds)],
            note=f"median of {len(seconds)}; the {len(warm)} before: "
            f"{min(warm):.2f}-{max(warm):.2f} s",
            runs_s=seconds,
        )

    def history(self, server: Server, client: Client) -> None:
        """History's figures (bench/bench_history.py) after the timed changes, each a version."""
        found = bench_history.versions_and_diff(server.url, self.arn)
        self.results["history"] = found
        self.set(
            "history.versions",
            [found["versions"]["p50_ms"]],
            note=f"{found['latest'] + 1} versions; p99 {found['versions']['p99_ms']:.1f} ms",
        )
        self.set(
            "history.diff",
            [found["diff"]["p50_ms"]],
            note=f"first call {found['diff']['first_ms']:.0f} ms; {found['diff_summary']}",
        )
        last = found["last_version"]
        change_bytes = len(self.main_changes[-1].payload)
        self.set(
            "history.bytes",
            [last["HistoryBytes"] / change_bytes],
            note=f"{last['HistoryBytes']:,} bytes for {last['ChangedEntries']:,} entries",
        )
        today = self.results.get("latency", {})
        at = bench_history.entries_at_version(
            server.url, self.arn, found["latest"] - 1, list_queries(self.config.entries), today
        )
        found["at_version"] = at
        ratios = {key: row["ratio"] for key, row in at.items() if "ratio" in row}
        worst = max(ratios, key=ratios.__getitem__)
        self.set(
            "history.at_version",
            [ratios[worst]],
            note=f"worst: {at[worst]['what']} ({at[worst]['p50_ms']:.1f} vs "
            f"{at[worst]['today_p50_ms']:.1f} ms; first call {at[worst]['first_ms']:.0f} ms)",
        )
        applied = self.results["change_n"][-1]["server_apply_ms"]
        undone = bench_history.revert(server.url, self.arn, found["latest"], client)
        found["revert"] = undone
        self.set(
            "history.revert",
            [undone["server_apply_ms"] / applied],
            note=f"{undone['server_apply_ms']:.0f} ms against {applied:.0f} ms",
        )

    def console(self, server: Server) -> None:
        """The console's figures on the N-entry dataset (bench/bench_console.py)."""
        bench_console.prepare_images(self.bucket_dir)
        pages = bench_console.gallery_pages(server.url, self.arn, list_queries(self.config.entries))
        self.results["console"] = found = {"pages": pages}
        slowest = max(pages, key=lambda key: pages[key]["p50_ms"])
        worst_p99 = max(page["p99_ms"] for page in pages.values())
        self.set(
            "console.page",
            [pages[slowest]["p50_ms"], worst_p99],
            note=f"slowest: {pages[slowest]['what']}; client side, loopback",
        )
        thumbs = bench_console.thumbnails(server.url, self.arn, self.bucket_dir)
        found["thumbnails"] = thumbs
        self.set(
            "console.thumb.cached",
            [thumbs["cached"]["p50_ms"]],
            note=f"p99 {thumbs['cached']['p99_ms']:.1f} ms",
        )
        self.set(
            "console.thumb.first",
            [thumbs["first"]["p50_ms"]],
            note=f"p99 {thumbs['first']['p99_ms']:.1f} ms, {thumbs['first']['count']} images",
        )
        browser = bench_console.browser_filter_change(server.url, self.arn)
        found["browser"] = browser
        self.set(
            "console.browser",
            [browser["p50_ms"]],
            note=f"max {browser['max_ms']:.0f} ms over {browser['count']} changes",
        )

    def _capped(self, result: dict[str, Any]) -> str:
        """A note when `latency` stopped at its time cap."""
        if result["count"] >= self.config.latency_count:
            return ""
        return f"; {result['count']} requests, the {self.config.latency_budget_s:.0f} s cap"

    def _deep_page(self, client: Client, found: dict[str, Any]) -> None:
        page = self.config.walk_page
        params: dict[str, Any] = {"DatasetArn": self.arn}
        walk: list[float] = []
        deadline = time.perf_counter() + 240.0
        for number in range(1, page):
            started = time.perf_counter()
            status, answer = client.raw("ListDatasetEntries", orjson.dumps(params))
            walk.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise BenchError(f"page {number}: HTTP {status}: {answer[:300]!r}")
            token = orjson.loads(answer).get("NextToken")
            if not token:
                raise BenchError(f"no NextToken after page {number}")
            params["NextToken"] = token
            if time.perf_counter() > deadline:
                raise BenchError(f"walking pages took over 240 s (at page {number})")
        config = self.config
        result = latency(
            client, "ListDatasetEntries", params, config.latency_count, config.latency_budget_s
        )
        entries = result.pop("first")["DatasetEntries"]
        expected = data.source_ref((page - 1) * 100)
        if not entries or orjson.loads(entries[0])["source-ref"] != expected:
            raise BenchError(f"page {page} does not start with {expected}")
        result["walk"] = percentiles(walk)
        result["walk_s"] = sum(walk) / 1000
        found["list.deep_page"] = result
        self.set(
            "list.deep_page",
            [result["p50_ms"], result["p99_ms"]],
            note=f"walk of {page - 1:,} pages: p50 {result['walk']['p50_ms']:.1f} ms"
            + self._capped(result),
        )

    def _changes(self, server: Server, client: Client) -> None:
        with self.profiled(server, "change-n"):
            runs = [
                timed_update(server, client, self.arn, change, change.new)
                for change in self.main_changes
            ]
        for run in runs:
            self.log(
                f"change into {run['entries_before']:,}: {run['seconds']:.3f} s "
                f"(call {run['call_s']:.3f} s, server apply {run['server_apply_ms']} ms), "
                f"peak RSS {run['peak_rss'] / MIB:.0f} MiB"
            )
        self.results["change_n"] = runs
        median = statistics.median(r["seconds"] for r in runs)
        apply_ms = [r["server_apply_ms"] for r in runs if r["server_apply_ms"] is not None]
        call = statistics.median(r["call_s"] for r in runs)
        self.set(
            "change.n",
            [median],
            note=f"call {call:.2f} s; server apply {statistics.median(apply_ms or [0]):.0f} ms",
            runs_s=[r["seconds"] for r in runs],
        )
        peak = max(r["peak_rss"] for r in runs)
        self.set("rss.change", [peak / MIB], note=f"into {self.config.entries:,}, sampled / 20 ms")
        self.curve[self.config.entries] = {"service_s": median}

    def empty(self) -> None:
        runs = []
        with (
            self.fresh_server("empty") as (server, client, project),
            self.profiled(server, "change-empty"),
        ):
            for change in self.main_changes:
                arn = client.call("CreateDataset", {"ProjectArn": project, "DatasetType": "TRAIN"})[
                    "DatasetArn"
                ]
                client.wait_settled(arn, 30.0)
                runs.append(timed_update(server, client, arn, change, change.lines))
                client.call("DeleteDataset", {"DatasetArn": arn})
                client.wait_gone(arn)
        self.results["change_empty"] = runs
        median = statistics.median(r["seconds"] for r in runs)
        apply_ms = statistics.median(r["server_apply_ms"] or 0 for r in runs)
        call = statistics.median(r["call_s"] for r in runs)
        peak = max(r["peak_rss"] for r in runs)
        self.set(
            "change.empty",
            [median],
            note=f"call {call:.2f} s; server apply {apply_ms:.0f} ms; RSS {peak / MIB:.0f} MiB",
            runs_s=[r["seconds"] for r in runs],
        )
        self.curve[0] = {"service_s": median}

    # -- sustained ingest (bench/bench_ingest.py) ----------------------------------------------

    def ingest(self) -> None:
        """`manifestdb push` of the N-line manifest into an empty dataset, then of N lines half
        replacing into those N entries; one fresh server and database."""
        n = self.config.entries
        mixed = bench_ingest.mixed_manifest(self.bucket_dir, n, n)
        # PostgreSQL: the jobs are applied by PUSH_WORKERS `manifestdb worker` processes (the
        # server `--no-runner`), as a deployment that outgrew one machine runs them.
        workers = PUSH_WORKERS if self.databases is not None else 0
        options = ["--no-runner"] if workers else []
        with (
            self.fresh_server("ingest", options) as (server, client, project),
            self.workers(server, workers) as started,
        ):
            pids = [worker.pid for worker in started]
            arn = client.call("CreateDataset", {"ProjectArn": project, "DatasetType": "TRAIN"})[
                "DatasetArn"
            ]
            client.wait_settled(arn, 30.0)
            with self.profiled(server, "push"):
                manifest = data.manifest(self.bucket_dir, n)
                empty = bench_ingest.push(server, arn, manifest, n, 0, 1.0, pids)
            self.log(
                f"push of {n:,} lines into an empty dataset: {empty['seconds']:.1f} s "
                f"({empty['lines_per_s']:,.0f} lines/s, {empty['changes']} changes), "
                f"peak RSS {empty['peak_rss'] / MIB:.0f} MiB"
            )
            replacing = bench_ingest.push(server, arn, mixed, n, n, 0.5, pids)
            self.log(
                f"push of {n:,} lines half replacing into {n:,}: "
                f"{replacing['seconds']:.1f} s ({replacing['lines_per_s']:,.0f} lines/s)"
            )
            total = client.describe(arn)["DatasetStats"]["TotalEntries"]
            if total != n + n - n // 2:
                raise BenchError(f"after the pushes the dataset holds {total:,} entries")
        self.results["push"] = {"empty": empty, "replacing": replacing}
        self.pushes = {
            "into an empty dataset": empty["curve"],
            f"half replacing, into {n:,}": replacing["curve"],
        }
        by = f"; {workers} `manifestdb worker` processes, the server --no-runner" if workers else ""
        self.set(
            "push.empty",
            [empty["lines_per_s"]],
            note=f"{empty['seconds']:.1f} s, {empty['changes']} changes{by}",
        )
        create = self.results.get("build", {}).get("create", {})
        if create.get("status") == "CREATE_COMPLETE" and create.get("lines") == n:
            self.set(
                "push.create",
                [empty["seconds"] / create["seconds"]],
                note=f"CreateDataset {create['seconds']:.1f} s ({create['lines_per_s']:,.0f} "
                "lines/s, the create phase)",
            )
        else:
            self.rows["push.create"].error = "no CreateDataset of the same N lines to compare"
        self.set(
            "push.replacing",
            [replacing["lines_per_s"]],
            note=f"{replacing['seconds']:.1f} s, {replacing['changes']} changes",
        )
        peak = max(empty["peak_rss"], replacing["peak_rss"])
        self.set(
            "push.rss",
            [peak / MIB],
            note="the largest process: the server"
            + (" or a worker" if workers else "")
            + ", with its engine helper, sampled / 20 ms",
        )

    def back_to_back_small(self) -> None:
        """The back-to-back figure at B2B_SMALL entries, on a fresh server and database."""
        size = self.b2b_sizes[0]
        with self.fresh_server("b2b-small") as (server, client, project):
            arn, _ = self.build(server, client, project, size)
            self.back_to_back(server, client, arn, size)

    def floor_back_to_back(self) -> None:
        """The floor of the back-to-back changes: `floor.py --back-to-back`, the same payloads."""
        folder = self.work / "floor-b2b"
        folder.mkdir()
        plan = [(size, self.b2b_changes[size]) for size in self.b2b_sizes]
        sizes = self._run_floor(["--back-to-back", *self._floor_plan(folder, plan)], folder)
        self.results["floor_back_to_back"] = sizes
        for item in sizes:
            key = self._b2b_key(item["entries"])
            timed = item["runs_s"][B2B_WARM:]
            floor_s = statistics.median(timed)
            service = self.rows[key].measured
            if service is None:
                self.rows[f"{key}.floor"].error = "no back-to-back figure to compare"
                continue
            self.set(
                f"{key}.floor",
                [service[0] / floor_s],
                note=f"floor {floor_s:.3f} s (median of its last {len(timed)})",
                floor_runs_s=item["runs_s"],
            )

    # -- apply time against size ---------------------------------------------------------------

    def curve_sizes(self) -> None:
        for size in self.config.curve_sizes:
            with self.fresh_server(f"curve-{size}") as (server, client, project):
                arn, built = self.build(server, client, project, size)
                runs = [
                    timed_update(server, client, arn, change, change.new)
                    for change in self.curve_changes[size]
                ]
            median = statistics.median(r["seconds"] for r in runs)
            self.log(f"change into {size:,}: median {median:.3f} s")
            self.curve[size] = {"service_s": median, "runs": runs, "build": built}

    # -- the floor -----------------------------------------------------------------------------

    def _floor_plan(self, folder: Path, plan: Iterable[tuple[int, list[data.Change]]]) -> list[str]:
        """floor.py's arguments for the N-line manifest and, per size in `plan`'s order, its
        changes (each written to a file in `folder`)."""
        arguments = ["--manifest", str(data.manifest(self.bucket_dir, self.config.entries))]
        for size, changes in plan:
            arguments += ["--entries", str(size)]
            for run, change in enumerate(changes):
                path = folder / f"change-{size}-{run}.jsonl"
                path.write_bytes(change.payload)
                arguments += ["--payload", f"{size}:{path}"]
        return arguments

    def _run_floor(self, arguments: list[str], folder: Path) -> list[dict[str, Any]]:
        """bench/floor.py (PostgreSQL: floor_pg.py, on a fresh database) with `arguments`."""
        url = self.fresh_database()
        script = "floor.py" if url is None else "floor_pg.py"
        arguments += ["--db", str(folder / "f.db")] if url is None else ["--database-url", url]
        try:
            done = subprocess.run(
                [sys.executable, str(BENCH / script), *arguments],
                capture_output=True,
                timeout=400,
                check=False,
            )
        finally:
            self.drop_database(url)
        if done.returncode != 0:
            raise BenchError(f"{script} exited {done.returncode}: {done.stderr.decode()[-800:]}")
        return list(orjson.loads(done.stdout)["sizes"])

    def floor(self) -> None:
        n = self.config.entries
        folder = self.work / "floor"
        folder.mkdir()
        plan: dict[int, list[data.Change]] = {
            0: self.main_changes,
            **self.curve_changes,
            n: self.main_changes,
        }
        sizes = self._run_floor(self._floor_plan(folder, sorted(plan.items())), folder)
        self.results["floor"] = sizes
        for item in sizes:
            self.curve.setdefault(item["entries"], {})["floor_s"] = statistics.median(
                item["runs_s"]
            )
        floor_n = self.curve[n]["floor_s"]
        service = self.rows["change.n"].measured
        if service is None:
            raise BenchError("no change-into-N figure to compare with the floor")
        self.set(
            "change.floor",
            [service[0] / floor_n],
            note=f"floor {floor_n:.3f} s; ≤ 2.5× is {2.5 * floor_n:.2f} s",
            floor_s=floor_n,
        )


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 100,000 (< 2 minutes)")
    parser.add_argument("--entries", type=int, default=None, help="N (default 1M, quick 100k)")
    parser.add_argument("--runs", type=int, default=None, help="changes per figure (5, quick 3)")
    parser.add_argument("--no-curve", action="store_true", help="skip the apply-vs-size curve")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    parser.add_argument("--output", type=Path, default=None, help="JSON file (default: results/)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the server with py-spy during create and changes (inflates those timings)",
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where the servers keep their data (default sqlite)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql: an existing database of the PostgreSQL server to use; the suite "
        "creates (and drops) its own fresh databases there "
        f"(default {DEFAULT_DATABASE_URL})",
    )
    options = parser.parse_args()
    if options.database_url and options.backend != "postgresql":
        parser.error("--database-url goes with --backend postgresql")
    config = Config.make(options)
    # Stopped by Ctrl-C or SIGTERM (e.g. `timeout`): unwind, so every server is stopped and the
    # temporary data removed (a background job of a script starts with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminated)
    began = time.perf_counter()
    machine = report.machine()
    backend = options.backend
    databases = None
    if backend == "postgresql":
        try:
            databases = BenchDatabases(options.database_url or DEFAULT_DATABASE_URL)
        except Exception as error:
            sys.exit(f"[bench] PostgreSQL is not usable: {type(error).__name__}: {error}")
        machine["postgresql"] = databases.version
        machine["postgresql_settings"] = databases.settings
    mode = "quick" if config.quick else "full"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    # The SQLite files keep their names of before the PostgreSQL mode.
    suffix = "" if backend == "sqlite" else f"-{backend}"
    profile = None
    if options.profile:
        if spy.py_spy() is None:
            sys.exit("[bench] --profile needs py-spy: .venv/bin/pip install py-spy")
        profile = out_dir / f"{stamp}-{mode}{suffix}-profile"
    try:
        with tempfile.TemporaryDirectory(prefix="manifestdb-bench-") as folder:
            suite = Suite(config, Path(folder), profile, databases)
            run_phases(suite)
    finally:
        if databases is not None:
            databases.drop_all()
    rows = list(suite.rows.values())
    elapsed = time.perf_counter() - began
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    command = "make bench" + ("-pg" if backend == "postgresql" else "")
    command += "-quick" if config.quick else ""
    custom = options.entries or options.runs or options.no_curve or options.profile
    if custom or options.database_url not in (None, DEFAULT_DATABASE_URL):
        command = "python bench/run.py " + " ".join(sys.argv[1:])
    curve = [{"entries": size, **point} for size, point in sorted(suite.curve.items())]
    for point in curve:
        point.pop("runs", None)
        point.pop("build", None)
    results = {
        "mode": mode,
        "backend": backend,
        "command": command,
        "entries": config.entries,
        "runs": config.runs,
        "machine": machine,
        "elapsed_s": elapsed,
        "rows": [row.as_dict() for row in rows],
        "curve": curve,
        **suite.results,
    }
    output = options.output or out_dir / f"{stamp}-{mode}-{backend}.json"
    text = orjson.dumps(results, option=orjson.OPT_INDENT_2).decode()
    output.write_text(text + "\n")
    (out_dir / f"latest-{mode}-{backend}.json").write_text(text + "\n")
    name = report.BACKEND_NAMES[backend]
    title = f"manifestdb on {name}, N = {config.entries:,} ({mode} run, {machine['date']})"
    kinds = ("latency", "apply", "push")
    plots = [out_dir / f"{stamp}-{mode}{suffix}-{kind}.png" for kind in kinds]
    try:
        latencies: list[tuple[str, float, float]] = []
        for row in rows:
            if row.measured is not None and len(row.measured) == 2 and row.key.startswith("list."):
                what = row.what.replace(" (p50 / p99)", "").replace("… ", "")
                latencies.append((what, row.measured[0], row.measured[1]))
        for key in ("describe.p50", "labels.p50"):
            found = suite.results.get("latency", {}).get(key)
            if found:
                what = suite.rows[key].what.replace(" (p50)", "")
                latencies.append((what, found["p50_ms"], found["p99_ms"]))
        report.plot_latency(latencies, plots[0], "Latency per query\n" + title)
        report.plot_apply(
            curve, plots[1], "A 5 MiB change, call to UPDATE_COMPLETE\n" + title, name
        )
        report.plot_push(
            suite.pushes,
            plots[2],
            "`manifestdb push`, throughput against the dataset's size\n" + title,
            suite.rows["push.empty"].target[0],
        )
        if not options.no_docs:
            for plot, kind in zip(plots, kinds, strict=True):
                if plot.exists():
                    shutil.copyfile(plot, ROOT / "docs" / f"benchmarks-{kind}{suffix}.png")
    except Exception as error:  # a plot must not lose the numbers
        print(f"[bench] plotting failed: {error}", file=sys.stderr)
    table = report.markdown(rows)
    print(f"\n## manifestdb benchmarks, {name}, N = {config.entries:,} ({mode})\n")
    print(table)
    shown = output.resolve().relative_to(ROOT) if output.resolve().is_relative_to(ROOT) else output
    print(f"\nResults: {shown}; {elapsed:.0f} s in all.")
    if suite.results["errors"]:
        print(f"Phases that failed: {', '.join(suite.results['errors'])} (see the JSON).")
    doc = ROOT / "docs" / "benchmarks.md"
    if not options.no_docs and report.update_doc(doc, rows, results, backend):
        print("docs/benchmarks.md updated.")


def run_phases(suite: Suite) -> None:
    suite.phase("data", list(suite.rows), suite.prepare)
    if not suite.main_changes:
        sys.exit("[bench] no data: stopping")
    suite.phase("validate", ["validate.rate"], suite.validate)
    suite.phase("create", ["create.rate", "create.rss", *suite.rows], suite.main)
    if hasattr(suite, "arn"):
        suite.phase("server", [], suite.read_and_change)
    shutil.rmtree(suite.work / "main", ignore_errors=True)
    suite.drop_database(suite.main_url)
    suite.phase("ingest", [key for key in suite.rows if key.startswith("push.")], suite.ingest)
    if len(suite.b2b_sizes) > 1:
        suite.phase("back-to-back-small", ["change.b2b.small"], suite.back_to_back_small)
    suite.phase("empty", ["change.empty"], suite.empty)
    suite.phase("curve", [], suite.curve_sizes)
    suite.phase("floor", ["change.floor"], suite.floor)
    suite.phase(
        "floor-back-to-back",
        [f"{suite._b2b_key(size)}.floor" for size in suite.b2b_sizes],
        suite.floor_back_to_back,
    )


if __name__ == "__main__":
    main()
