"""Scale-out on PostgreSQL: API-only servers and separate workers sharing one database."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from botocore.exceptions import ClientError

from manifestdb.harness import WorkerProcess
from support.lines import image_line, manifest
from support.server import (
    Server,
    all_entries,
    wait_for_status,
)

pytestmark = pytest.mark.postgres
CLUSTER_SECONDS = float(os.environ.get("MANIFESTDB_CLUSTER_SECONDS", "20"))


@pytest.fixture
def cluster_parts(database: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    parts: dict[str, Any] = {"servers": [], "workers": []}

    def server(*args: str) -> Server:
        started = Server(
            tmp_path / f"s{len(parts['servers'])}", args, database_url=database, lease_seconds=2
        ).start()
        parts["servers"].append(started)
        return started

    def worker(*args: str) -> WorkerProcess:
        log = tmp_path / f"worker{len(parts['workers'])}.log"
        started = WorkerProcess(database, log, ["--lease-seconds", "2", *args])
        parts["workers"].append(started)
        return started

    parts["server"], parts["worker"], parts["database"] = server, worker, database
    yield parts
    for started in parts["workers"]:
        started.stop()
    for started in parts["servers"]:
        started.stop()


def test_two_servers_and_two_workers_agree_with_a_sequential_replay(cluster_parts: Any):
    servers = [cluster_parts["server"]("--no-runner") for _ in range(2)]
    workers = [cluster_parts["worker"]("--concurrency", "2") for _ in range(2)]
    setup = servers[0].client()
    datasets = []
    for index in range(20):
        project = setup.create_project(ProjectName=f"cluster-{index}")["ProjectArn"]
        datasets.append(setup.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"])
    locks = {arn: threading.Lock() for arn in datasets}
    accepted: dict[str, list[tuple[int, list[str]]]] = defaultdict(list)
    statuses: list[int] = []
    counter = iter(range(10**9))
    deadline = time.monotonic() + CLUSTER_SECONDS

    def client_loop(seed: int) -> None:
        rng = random.Random(seed)
        clients = [server.client() for server in servers]
        while time.monotonic() < deadline:
            arn = rng.choice(datasets)
            call = next(counter)
            refs = [
                f"s3://cluster-bucket/{rng.randrange(60)}.jpg" for _ in range(rng.randint(1, 8))
            ]
            refs = list(dict.fromkeys(refs))
            change = manifest(*(image_line(ref, f"call-{call}") for ref in refs))
            # One call in flight per dataset from this side, so the accepted order is known.
            with locks[arn]:
                try:
                    response = rng.choice(clients).update_dataset_entries(
                        DatasetArn=arn, Changes={"GroundTruth": change}
                    )
                    statuses.append(response["ResponseMetadata"]["HTTPStatusCode"])
                    accepted[arn].append((call, refs))
                except ClientError as error:
                    statuses.append(error.response["ResponseMetadata"]["HTTPStatusCode"])
                    assert error.response["Error"]["Code"] == "ResourceInUseException", error
            rng.choice(clients).describe_dataset(DatasetArn=arn)

    threads = [threading.Thread(target=client_loop, args=(seed,)) for seed in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert all(status < 500 for status in statuses), sorted(set(statuses))
    applied = sum(len(calls) for calls in accepted.values())
    assert applied > 20
    for arn in datasets:
        description = wait_for_status(setup, arn, timeout=60)
        assert description["Status"] == "UPDATE_COMPLETE" or not accepted[arn], description
        expected: dict[str, str] = {}
        for call, refs in accepted[arn]:
            for ref in refs:
                expected[ref] = f"call-{call}"
        stored = {
            entry["source-ref"]: entry["label-metadata"]["class-name"]
            for entry in all_entries(servers[1].client(), arn)
        }
        assert stored == expected, arn
        assert description["DatasetStats"]["TotalEntries"] == len(expected)
    print(
        f"\ncluster: {len(statuses)} update calls, {applied} accepted and applied in "
        f"{elapsed:.1f}s ({applied / elapsed:.1f} updates/s), 8 clients, 2 servers, 2 workers"
    )
    for worker in workers:
        assert worker.stop() == 0
        assert "Traceback" not in worker.log()


def _slow_update(cluster_parts: Any, count: int = 400) -> tuple[Any, str, bytes]:
    server = cluster_parts["server"]("--no-runner")
    client = server.client()
    project = client.create_project(ProjectName="lease")["ProjectArn"]
    arn = client.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    change = manifest(
        *(image_line(f"s3://lease-bucket/{i}.jpg", f"l{i % 7}") for i in range(count))
    )
    return client, arn, change


def _reports(client: Any, arn: str) -> list[dict[str, Any]]:
    import urllib.parse

    import urllib3

    url = client.meta.endpoint_url + "/_manifestdb/datasets/" + urllib.parse.quote(arn, safe="")
    return list(
        orjson.loads(urllib3.PoolManager().request("GET", url + "/updates").data)["Updates"]
    )


def _wait_claimed(database: str, worker: WorkerProcess) -> None:
    """Until `worker`, the only one running, has claimed the queued job (it may start slowly)."""
    deadline = time.monotonic() + 30
    with psycopg.connect(database, autocommit=True) as connection:
        while not connection.execute("SELECT 1 FROM jobs WHERE state = 'running'").fetchone():
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.05)


def test_a_killed_workers_job_is_finished_by_another_after_the_lease(cluster_parts: Any):
    client, arn, change = _slow_update(cluster_parts)
    first = cluster_parts["worker"]("--job-delay", "30")
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": change})
    _wait_claimed(cluster_parts["database"], first)
    time.sleep(0.5)  # "applying" (the delay counts as work, heartbeats running)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    killed = time.monotonic()
    cluster_parts["worker"]()
    description = wait_for_status(client, arn, timeout=60)
    recovered = time.monotonic() - killed
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["DatasetStats"]["TotalEntries"] == 400
    assert len(all_entries(client, arn)) == 400
    (report,) = _reports(client, arn)  # applied once
    assert report["added"] == 400
    assert recovered >= 1.0  # not before the 2 s lease could pass
    print(f"\nlease recovery: job finished {recovered:.1f}s after its worker was killed")


def test_a_stalled_worker_cannot_commit_after_losing_its_lease(cluster_parts: Any):
    client, arn, change = _slow_update(cluster_parts)
    stalled = cluster_parts["worker"]("--job-delay", "3")
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": change})
    _wait_claimed(cluster_parts["database"], stalled)
    time.sleep(0.5)
    stalled.process.send_signal(signal.SIGSTOP)  # frozen mid-job: no heartbeats
    try:
        cluster_parts["worker"]()
        description = wait_for_status(client, arn, timeout=60)
        assert description["Status"] == "UPDATE_COMPLETE"
    finally:
        stalled.process.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 30
    while "taken over by another worker" not in stalled.log():
        assert time.monotonic() < deadline, stalled.log()
        time.sleep(0.2)
    assert len(_reports(client, arn)) == 1  # the stalled worker's application never committed
    assert len(all_entries(client, arn)) == 400
