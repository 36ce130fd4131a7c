"""History's figures on the server of the read phase (N entries, after the timed changes, each a
version): listing versions, the diff of the last two versions, ListDatasetEntriesAtVersion at the
version before the last change against today's ListDatasetEntries for every filter of the suite,
the before-images a 5 MiB change keeps against its size, and reverting that change against the
time it took to apply.

The history routes are called unsigned (the bench server runs with `--auth off`), client side on
loopback, body read included, as the suite's other latencies.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import orjson
import urllib3

SAMPLES = 60  # timed requests per figure (after 5 untimed)


class History:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") + "/_manifestdb/history/"
        self.http = urllib3.PoolManager(maxsize=1, retries=False, timeout=120.0)

    def raw(self, operation: str, body: bytes) -> tuple[int, bytes]:
        response = self.http.request(
            "POST", self.url + operation, body=body, headers={"Content-Type": "application/json"}
        )
        return response.status, response.data

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        status, data = self.raw(operation, orjson.dumps(params))
        if status != 200:
            raise RuntimeError(f"{operation} answered HTTP {status}: {data[:300]!r}")
        result: dict[str, Any] = orjson.loads(data)
        return result


def timed(history: History, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """p50/p99 of identical requests, and the time of the very first one (a cold overlay)."""
    body = orjson.dumps(params)
    started = time.perf_counter()
    status, first = history.raw(operation, body)
    first_ms = (time.perf_counter() - started) * 1000
    if status != 200:
        raise RuntimeError(f"{operation} {params} answered HTTP {status}: {first[:300]!r}")
    for _ in range(5):
        history.raw(operation, body)
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        history.raw(operation, body)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p99_ms": times[max(0, int(0.99 * len(times)) - 1)],
        "first_ms": first_ms,
        "answer": orjson.loads(first),
    }


def versions_and_diff(url: str, arn: str) -> dict[str, Any]:
    history = History(url)
    listed = timed(history, "ListDatasetVersions", {"DatasetArn": arn})
    versions = listed.pop("answer")["Versions"]
    latest = versions[0]["VersionNumber"]
    diff = timed(
        history,
        "DiffDatasetVersions",
        {"DatasetArn": arn, "FromVersion": latest - 1, "ToVersion": latest, "MaxResults": 1000},
    )
    summary = diff.pop("answer")["Summary"]
    return {
        "latest": latest,
        "versions": listed,
        "diff": diff,
        "diff_summary": {k: summary[k] for k in ("Added", "Removed", "Changed")},
        "last_version": versions[0],
    }


def entries_at_version(
    url: str, arn: str, version: int, queries: list[tuple[str, str, dict[str, Any]]], today: Any
) -> dict[str, Any]:
    """For each filter: p50 at `version` and its ratio to today's p50 (from the read phase)."""
    history = History(url)
    found: dict[str, Any] = {}
    for key, what, filters in queries:
        result = timed(
            history,
            "ListDatasetEntriesAtVersion",
            {"DatasetArn": arn, "VersionNumber": version, **filters},
        )
        rows = len(result.pop("answer")["DatasetEntries"])
        now = today.get(key)
        result.update(what=what, rows=rows)
        if now:
            result["today_p50_ms"] = now["p50_ms"]
            result["ratio"] = result["p50_ms"] / now["p50_ms"]
        found[key] = result
    return found


def revert(url: str, arn: str, version: int, client: Any) -> dict[str, Any]:
    """Revert `version` (the last 5 MiB change), call to UPDATE_COMPLETE, and its report."""
    history = History(url)
    started = time.perf_counter()
    history.call("RevertDatasetVersion", DatasetArn=arn, VersionNumber=version)
    description = client.wait_settled(arn, timeout=300.0, poll=0.02)
    seconds = time.perf_counter() - started
    if description["Status"] != "UPDATE_COMPLETE":
        raise RuntimeError(f"the revert ended {description['Status']}")
    report = client.last_report(arn)
    return {
        "seconds": seconds,
        "server_apply_ms": report.get("duration_ms"),
        "report": {k: report.get(k) for k in ("added", "replaced", "removed", "version")},
    }
