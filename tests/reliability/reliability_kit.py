"""Shared pieces of the reliability tests: raw calls, dataset snapshots, marked changes, SQLite
checks, and sizes from `MANIFESTDB_*` variables (CI runs small; `make fuzz`/`make load` run long).
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import sqlite3
import sys
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import urllib3

from support.raw import Answer

ROOT = Path(__file__).resolve().parents[2]
DB_FILE = "manifestdb.sqlite3"
MAX_CHANGE = 5 * 1024 * 1024  # the largest legal Changes.GroundTruth
TARGET = "RekognitionService."
JSON_11 = "application/x-amz-json-1.1"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@cache
def bench_data() -> ModuleType:
    """bench/data.py, the realistic line generator, loaded under a name of its own."""
    spec = importlib.util.spec_from_file_location("manifestdb_bench_data", ROOT / "bench/data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# -- raw AWS JSON 1.1 calls ------------------------------------------------------------------


class Api:
    """Raw calls to one server (a pool of its own, so a restarted server gets fresh sockets)."""

    def __init__(self, url: str, read_timeout: float = 120.0) -> None:
        self.url = url
        self.http = urllib3.PoolManager(
            maxsize=32, retries=False, timeout=urllib3.Timeout(connect=5, read=read_timeout)
        )

    def call(self, operation: str, params: dict[str, Any]) -> Answer:
        response = self.http.request(
            "POST",
            self.url + "/",
            body=orjson.dumps(params),
            headers={"X-Amz-Target": TARGET + operation, "Content-Type": JSON_11},
        )
        return Answer(response.status, response.headers, response.data)

    def ok(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        reply = self.call(operation, params)
        assert reply.status == 200, (operation, reply.status, reply.body[:500])
        return dict(reply.json)

    def describe(self, arn: str) -> dict[str, Any]:
        return dict(self.ok("DescribeDataset", {"DatasetArn": arn})["DatasetDescription"])

    def settle(self, arn: str, timeout: float = 120.0) -> dict[str, Any]:
        """DescribeDataset once the dataset is no longer *_IN_PROGRESS."""
        deadline = time.monotonic() + timeout
        while True:
            description = self.describe(arn)
            if not description["Status"].endswith("_IN_PROGRESS"):
                return description
            assert time.monotonic() < deadline, f"still {description['Status']} after {timeout}s"
            time.sleep(0.05)

    def reports(self, arn: str) -> list[dict[str, Any]]:
        """Every update report kept for a dataset, oldest first."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        path = f"/_manifestdb/datasets/{urllib.parse.quote(arn, safe='')}/updates"
        while True:
            fields = {"max_results": "100", **({"next_token": token} if token else {})}
            response = self.http.request("GET", self.url + path, fields=fields)
            assert response.status == 200, response.data[:500]
            body = orjson.loads(response.data)
            found.extend(body["Updates"])
            token = body.get("NextToken")
            if not token:
                return found[::-1]


def new_dataset(api: Api, name: str) -> str:
    project = api.ok("CreateProject", {"ProjectName": name})["ProjectArn"]
    arn = api.ok("CreateDataset", {"ProjectArn": project, "DatasetType": "TRAIN"})["DatasetArn"]
    return str(arn)


def update(api: Api, arn: str, payload: bytes) -> Answer:
    import base64

    return api.call(
        "UpdateDatasetEntries",
        {"DatasetArn": arn, "Changes": {"GroundTruth": base64.b64encode(payload).decode()}},
    )


# -- snapshots: what a client can see of a dataset -------------------------------------------


@dataclass
class Snapshot:
    """ListDatasetEntries pages (raw bodies), the entries, the stats and the label pages."""

    pages: list[bytes]
    entries: list[str]
    description: dict[str, Any]
    label_pages: list[bytes]
    labels: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.description["DatasetStats"])

    def parsed(self) -> list[dict[str, Any]]:
        return [orjson.loads(entry) for entry in self.entries]

    def same_data(self, other: Snapshot) -> bool:
        return (
            self.pages == other.pages
            and self.label_pages == other.label_pages
            and self.stats == other.stats
        )


def snapshot(api: Api, arn: str) -> Snapshot:
    description = api.describe(arn)
    pages: list[bytes] = []
    entries: list[str] = []
    token: str | None = None
    while True:
        reply = api.call(
            "ListDatasetEntries",
            {"DatasetArn": arn, "MaxResults": 100, **({"NextToken": token} if token else {})},
        )
        assert reply.status == 200, reply.body[:500]
        pages.append(reply.body)
        body = reply.json
        entries.extend(body["DatasetEntries"])
        token = body.get("NextToken")
        if token is None:
            break
    label_pages: list[bytes] = []
    labels: list[dict[str, Any]] = []
    token = None
    while True:
        reply = api.call(
            "ListDatasetLabels",
            {"DatasetArn": arn, "MaxResults": 100, **({"NextToken": token} if token else {})},
        )
        assert reply.status == 200, reply.body[:500]
        label_pages.append(reply.body)
        labels.extend(reply.json["DatasetLabelDescriptions"])
        token = reply.json.get("NextToken")
        if token is None:
            break
    return Snapshot(pages, entries, description, label_pages, labels)


def check_counters(snap: Snapshot) -> None:
    """DescribeDataset's counters agree with the entries and labels a client can list."""
    parsed = snap.parsed()
    stats = snap.stats
    assert stats["TotalEntries"] == len(parsed)
    assert stats["LabeledEntries"] == sum(e["cl-metadata"]["is_labeled"] for e in parsed)
    assert stats["ErrorEntries"] == sum(_has_errors(e) for e in parsed)
    assert stats["TotalLabels"] == len(snap.labels)


def _has_errors(value: Any) -> bool:
    if isinstance(value, dict):
        return bool(value.get("errors")) or any(_has_errors(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_errors(v) for v in value)
    return False


# -- changes whose lines say which change wrote them -----------------------------------------


@dataclass
class Change:
    number: int
    payload: bytes
    refs: list[str]  # in payload order
    new: list[str]  # refs the dataset did not hold, in payload order
    replaced: int


def marked_change(
    number: int,
    existing: list[str],
    new_start: int,
    seed: int,
    new_every: int = 10,
    max_bytes: int = MAX_CHANGE,
) -> Change:
    """A change of `max_bytes` (default: as large as UpdateDatasetEntries takes, 5 MiB) of
    bench/data.py's realistic lines, each carrying `"change": number`: lines replacing random
    existing entries, and every `new_every`-th line (all of them once the existing ones are
    used) a new image whose index counts from `new_start`."""
    data = bench_data()
    rng = random.Random(seed * 1_000_003 + number)
    order = rng.sample(range(len(existing)), len(existing))
    parts: list[bytes] = []
    refs: list[str] = []
    new: list[str] = []
    size = 0
    while True:
        if order and (len(parts) + 1) % new_every:
            index, is_new = _index_of(existing[order.pop()]), False
        else:
            index, is_new = new_start + len(new), True
        record = orjson.loads(data.line(rng, index))
        ref = record.pop("source-ref")
        text = orjson.dumps({"source-ref": ref, "change": number, **record})
        if size + len(text) + 1 > max_bytes:
            return Change(number, b"".join(parts), refs, new, len(refs) - len(new))
        parts.append(text + b"\n")
        size += len(text) + 1
        refs.append(ref)
        if is_new:
            new.append(ref)


def _index_of(ref: str) -> int:
    return int(ref.rsplit("img", 1)[1].split(".")[0])


# -- the database file -----------------------------------------------------------------------


def integrity_check(data_dir: Path, scratch: Path) -> str:
    """`PRAGMA integrity_check` of the database as the next start would find it: a copy of the
    file and its WAL (the server is stopped), so the check cannot change the original."""
    scratch.mkdir(parents=True, exist_ok=True)
    for stale in scratch.glob(DB_FILE + "*"):
        stale.unlink()
    for suffix in ("", "-wal"):
        source = data_dir / (DB_FILE + suffix)
        if source.exists():
            shutil.copyfile(source, scratch / (DB_FILE + suffix))
    with sqlite3.connect(scratch / DB_FILE) as connection:
        result = connection.execute("PRAGMA integrity_check").fetchall()
    return "\n".join(str(row[0]) for row in result)


def read_only(data_dir: Path) -> sqlite3.Connection:
    """A read-only connection to a stopped (or running, WAL) server's database."""
    return sqlite3.connect(f"file:{data_dir / DB_FILE}?mode=ro", uri=True)


def job_states(data_dir: Path) -> dict[tuple[str, str], int]:
    with read_only(data_dir) as connection:
        rows = connection.execute("SELECT kind, state, count(*) FROM jobs GROUP BY kind, state")
        return {(kind, state): count for kind, state, count in rows}


def percentile(values: Iterable[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]
