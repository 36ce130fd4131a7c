"""Graceful stop: SIGTERM stops accepting, lets the running job and in-flight requests finish,
leaves queued jobs queued intact, and exits 0 within a bounded time; nothing is lost."""

from __future__ import annotations

import base64
import signal
import socket
import time
from pathlib import Path
from typing import Any

import orjson
from reliability_kit import (
    Api,
    marked_change,
    new_dataset,
    read_only,
    snapshot,
    update,
)

from manifestdb.harness import connect, read_response, request_head

STOP_BOUND = 35.0  # seconds: uvicorn's graceful timeout (30) and a margin


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def _jobs(data_dir: Path) -> dict[int, tuple[str, bool]]:
    """dataset id -> (state, payload still held) of the update jobs."""
    with read_only(data_dir) as connection:
        rows = connection.execute(
            "SELECT dataset_id, state, EXISTS (SELECT 1 FROM job_payloads WHERE job_id = id) "
            "FROM jobs WHERE kind = 'update'"
        )
        return {dataset: (state, bool(held)) for dataset, state, held in rows}


def _dataset_ids(data_dir: Path) -> dict[str, int]:
    with read_only(data_dir) as connection:
        return dict(connection.execute("SELECT arn, id FROM datasets").fetchall())


def test_sigterm_finishes_the_running_job_keeps_the_queued_one_and_exits_zero(
    start_server: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    server = start_server("--job-delay", "1.5", data_dir=data_dir)
    api = Api(server.url)
    first, second = new_dataset(api, "stop-a"), new_dataset(api, "stop-b")
    changes = [marked_change(n, [], 0, seed=5, new_every=1) for n in (1, 2)]
    for arn, change in zip((first, second), changes, strict=True):
        assert update(api, arn, change.payload).status == 200
    ids = _dataset_ids(data_dir)
    deadline = time.monotonic() + 10
    while _jobs(data_dir).get(ids[first], ("",))[0] != "running":
        assert time.monotonic() < deadline, _jobs(data_dir)
        time.sleep(0.02)

    assert server.process is not None
    process = server.process
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    # It stops accepting at once, while it still works on the running job.
    while not _refused(server.port):
        assert time.monotonic() - signalled < 2, "still accepting connections 2 s after SIGTERM"
        time.sleep(0.02)
    assert process.poll() is None, "exited before the running job could finish"
    assert process.wait(STOP_BOUND) == 0
    assert time.monotonic() - signalled < STOP_BOUND
    server.process = None

    jobs = _jobs(data_dir)
    assert jobs[ids[first]] == ("done", False)  # finished, payload released
    assert jobs[ids[second]] == ("queued", True)  # untouched, payload kept
    with read_only(data_dir) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    server.args = []  # no delay after the restart
    server.start()
    api = Api(server.url)
    for arn, change in zip((first, second), changes, strict=True):
        assert api.settle(arn)["Status"] == "UPDATE_COMPLETE"
        snap = snapshot(api, arn)
        assert [e["source-ref"] for e in snap.parsed()] == change.refs
        assert {e["change"] for e in snap.parsed()} == {change.number}
        assert len(api.reports(arn)) == 1  # applied once


def test_sigterm_lets_a_request_in_flight_finish_and_its_change_is_kept(
    start_server: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir=data_dir)
    api = Api(server.url)
    arn = new_dataset(api, "stop-in-flight")
    change = marked_change(1, [], 0, seed=6, new_every=1)
    body = orjson.dumps(
        {"DatasetArn": arn, "Changes": {"GroundTruth": base64.b64encode(change.payload).decode()}}
    )
    head = request_head("UpdateDatasetEntries", Content_Length=str(len(body)))
    with connect(server.url, timeout=30) as client:
        client.sendall(head + body[: len(body) // 2])
        time.sleep(0.3)
        assert server.process is not None
        process = server.process
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the server is stopping while the body is still coming
        client.sendall(body[len(body) // 2 :])
        answer = read_response(client)
    assert answer.head.startswith(b"HTTP/1.1 200 "), answer
    assert process.wait(STOP_BOUND) == 0
    assert time.monotonic() - signalled < STOP_BOUND
    server.process = None

    server.start()
    api = Api(server.url)
    assert api.settle(arn)["Status"] == "UPDATE_COMPLETE"
    assert [e["source-ref"] for e in snapshot(api, arn).parsed()] == change.refs
    assert len(api.reports(arn)) == 1
