"""Load: 16 concurrent clients mix every read operation with updates against one server (loopback
only) for MANIFESTDB_LOAD_SECONDS (15 in CI; `make load` runs 60).

Checked: no 5xx and every answer a well-formed AWS answer; no lost update (every accepted update's
lines are there), each applied exactly once (one `done` job per 200, one report each), in the
order they were accepted (the last accepted update owns the shared line); datasets that only
take reads stay byte-identical. Recorded: p50/p99 latency per operation, throughput and the
server's peak memory, to a JSON file (MANIFESTDB_LOAD_REPORT, else a temporary one) and stdout.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from reliability_kit import (
    Api,
    bench_data,
    env_float,
    env_int,
    job_states,
    new_dataset,
    percentile,
    read_only,
    snapshot,
    update,
)

SECONDS = env_float("MANIFESTDB_LOAD_SECONDS", 15.0)
CLIENTS = env_int("MANIFESTDB_LOAD_CLIENTS", 16)
SEED = env_int("MANIFESTDB_LOAD_SEED", 4242)
pytestmark = pytest.mark.timeout(SECONDS + 240)  # pytest-timeout: the run plus setup/checks
UPDATED = 4  # datasets that take updates (and reads)
READ_ONLY = 2  # datasets that only take reads
SEED_LINES = 1500
WEIGHTS = {
    "DescribeProjects": 10,
    "DescribeDataset": 25,
    "ListDatasetEntries": 35,
    "ListDatasetLabels": 15,
    "UpdateDatasetEntries": 15,
}
LATEST = "s3://bench-bucket/load/latest.jpg"  # every update replaces it: who wrote it last?


@dataclass
class Accepted:
    dataset: str
    marker: str
    refs: list[str]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    accepted: list[Accepted] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _lines(rng: random.Random, refs: list[str], marker: str) -> bytes:
    data = bench_data()
    out = []
    for index, ref in enumerate(refs):
        record = orjson.loads(data.line(rng, index))
        record.pop("source-ref")
        out.append(orjson.dumps({"source-ref": ref, "marker": marker, **record}))
    return b"\n".join(out) + b"\n"


def _seed(api: Api, arn: str, name: str) -> None:
    rng = random.Random(name)
    refs = [f"s3://bench-bucket/load/{name}/seed-{i}.jpg" for i in range(SEED_LINES)]
    assert update(api, arn, _lines(rng, refs, "seed")).status == 200
    assert api.settle(arn)["Status"] == "UPDATE_COMPLETE"


def _client(
    number: int,
    url: str,
    updated: list[str],
    read_only_arns: list[str],
    projects: list[str],
    serials: dict[str, itertools.count[int]],
    deadline: float,
    tally: Tally,
) -> None:
    rng = random.Random(SEED * 100 + number)
    api = Api(url, read_timeout=60)
    operations = list(WEIGHTS)
    weights = list(WEIGHTS.values())
    labels = bench_data().VOCABULARY
    while time.monotonic() < deadline:
        operation = rng.choices(operations, weights)[0]
        arn = rng.choice(updated + read_only_arns)
        accepted: Accepted | None = None
        if operation == "DescribeProjects":
            params: dict[str, Any] = {"MaxResults": rng.randint(1, 100)}
            if rng.random() < 0.3:
                params["ProjectNames"] = rng.sample(projects, rng.randint(1, 3))
        elif operation == "DescribeDataset":
            params = {"DatasetArn": arn}
        elif operation == "ListDatasetEntries":
            params = {"DatasetArn": arn, "MaxResults": rng.choice([10, 50, 100])}
            if rng.random() < 0.3:
                params["ContainsLabels"] = rng.sample(labels, rng.randint(1, 3))
            if rng.random() < 0.2:
                params["Labeled"] = rng.random() < 0.5
            if rng.random() < 0.2:
                params["HasErrors"] = rng.random() < 0.5
            if rng.random() < 0.2:
                params["SourceRefContains"] = rng.choice(["seed-1", "load/", "-3", "latest"])
        elif operation == "ListDatasetLabels":
            params = {"DatasetArn": arn, "MaxResults": rng.randint(1, 100)}
        else:
            arn = rng.choice(updated)
            serial = next(serials[arn])
            count = 5 + serial + (1500 if serial % 10 == 9 else 0)  # a distinct size each
            marker = f"c{number}-s{serial}"
            refs = [LATEST] + [f"s3://bench-bucket/load/{marker}/{i}.jpg" for i in range(count - 1)]
            accepted = Accepted(arn, marker, refs)
            params = {
                "DatasetArn": arn,
                "Changes": {"GroundTruth": base64.b64encode(_lines(rng, refs, marker)).decode()},
            }
        pages = rng.randint(1, 3) if operation == "ListDatasetEntries" else 1
        for _ in range(pages):
            started = time.perf_counter()
            reply = api.call(operation, params)
            elapsed = time.perf_counter() - started
            outcome = _judge(operation, reply)
            with tally.lock:
                tally.latencies[operation].append(elapsed)
                tally.outcomes[operation][outcome] += 1
                if outcome.startswith("BAD"):
                    tally.problems.append(f"{operation}: {outcome}")
                if accepted is not None and outcome == "200":
                    tally.accepted.append(accepted)
            token = reply.json.get("NextToken") if reply.status == 200 else None
            if not token:
                break
            params = {**params, "NextToken": token}


EXPECTED_ERRORS = {
    # ListDatasetEntries/Labels and updates of a dataset that is UPDATE_IN_PROGRESS.
    "ListDatasetEntries": {"ResourceInUseException"},
    "ListDatasetLabels": {"ResourceInUseException"},
    "UpdateDatasetEntries": {"ResourceInUseException"},
}


def _judge(operation: str, reply: Any) -> str:
    """'200', an expected error code, or 'BAD ...'."""
    if reply.status >= 500:
        return f"BAD {reply.status} {reply.body[:200]!r}"
    try:
        body = reply.json
    except orjson.JSONDecodeError:
        return f"BAD not JSON: {reply.body[:200]!r}"
    if reply.headers.get("Content-Type") != "application/x-amz-json-1.1" or not reply.headers.get(
        "x-amzn-RequestId"
    ):
        return f"BAD headers {dict(reply.headers)}"
    if reply.status == 200:
        return "200" if isinstance(body, dict) and "__type" not in body else f"BAD body {body}"
    code = body.get("__type")
    if code in EXPECTED_ERRORS.get(operation, set()) and reply.status == 400:
        return str(code)
    return f"BAD {reply.status} {body}"


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return 0.0
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def test_sixteen_clients_mixing_reads_and_updates(
    start_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir=data_dir)
    api = Api(server.url)
    names = [f"load-{n}" for n in range(UPDATED + READ_ONLY)]
    arns = [new_dataset(api, name) for name in names]
    for name, arn in zip(names, arns, strict=True):
        _seed(api, arn, name)
    updated, read_only_arns = arns[:UPDATED], arns[UPDATED:]
    untouched = [snapshot(api, arn) for arn in read_only_arns]
    serials = {arn: itertools.count() for arn in updated}
    tally = Tally()

    started = time.monotonic()
    deadline = started + SECONDS
    clients = [
        threading.Thread(
            target=_client,
            args=(n, server.url, updated, read_only_arns, names, serials, deadline, tally),
        )
        for n in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join(SECONDS + 120)
    assert not any(client.is_alive() for client in clients)
    elapsed = time.monotonic() - started
    assert tally.problems == []

    # No lost update, none applied twice, in the order they were accepted.
    for arn in updated:
        assert api.settle(arn)["Status"] == "UPDATE_COMPLETE"
        mine = [a for a in tally.accepted if a.dataset == arn]
        entries = snapshot(api, arn).parsed()
        held = {e["source-ref"]: e["marker"] for e in entries}
        for accepted in mine:
            for ref in accepted.refs[1:]:
                assert held.get(ref) == accepted.marker, f"update {accepted.marker} lost"
        assert len(entries) == SEED_LINES + (1 if mine else 0) + sum(len(a.refs) - 1 for a in mine)
        reports = api.reports(arn)[1:] if len(mine) < 100 else api.reports(arn)
        size_of = {len(a.refs): a for a in mine}
        order = [size_of[r["lines_read"]] for r in reports]
        assert len(order) == min(len(mine), 100)
        if mine:
            assert held[LATEST] == order[-1].marker  # the last one applied wrote it last
    for arn, before in zip(read_only_arns, untouched, strict=True):
        assert snapshot(api, arn).same_data(before)
    peak = _peak_rss_mb(server.process.pid) if server.process else 0.0
    assert server.stop() == 0
    states = job_states(data_dir)
    assert states.get(("update", "done"), 0) == len(tally.accepted) + len(arns)
    assert set(states) == {("update", "done")}
    with read_only(data_dir) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    calls = sum(len(v) for v in tally.latencies.values())
    figures = {
        "seconds": round(elapsed, 1),
        "clients": CLIENTS,
        "calls": calls,
        "calls_per_second": round(calls / elapsed, 1),
        "updates_accepted": len(tally.accepted),
        "updates_refused_busy": tally.outcomes["UpdateDatasetEntries"]["ResourceInUseException"],
        "server_peak_rss_mb": peak,
        "operations": {
            operation: {
                "calls": len(values),
                "p50_ms": round(percentile(values, 0.50) * 1000, 1),
                "p99_ms": round(percentile(values, 0.99) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1),
                "outcomes": dict(tally.outcomes[operation]),
            }
            for operation, values in sorted(tally.latencies.items())
        },
    }
    report = Path(os.environ.get("MANIFESTDB_LOAD_REPORT") or tmp_path / "load.json")
    report.write_text(json.dumps(figures, indent=2))
    with capsys.disabled():
        print(f"\nload ({report}):\n{json.dumps(figures, indent=2)}")
