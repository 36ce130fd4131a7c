"""The server's engine helper process (`jobs.engine`): started with the server, gone with it
(also when the server is killed), replaced when it dies; `--no-engine-helper` starts none."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import Api, new_dataset, update

from support.lines import image_line, manifest
from support.server import wait_until


def _helpers(parent: int) -> list[int]:
    """The pids of the engine helpers whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"manifestdb.jobs.engine" in command:
            found.append(int(entry.name))
    return found


def _change(seed: int) -> bytes:
    return manifest(*(image_line(f"s3://bucket/{seed}/{i}.jpg", f"l{i % 4}") for i in range(800)))


def test_a_helper_serves_the_jobs_and_a_dead_one_is_replaced(start_server: Any) -> None:
    server = start_server()
    assert server.process is not None
    pid = server.process.pid
    wait_until(lambda: len(_helpers(pid)) == 1)
    (first,) = _helpers(pid)
    api = Api(server.url)
    arn = new_dataset(api, "helped")
    assert update(api, arn, _change(1)).status == 200
    assert api.settle(arn)["Status"] == "UPDATE_COMPLETE"
    assert _helpers(pid) == [first]  # the same process, job after job
    os.kill(first, signal.SIGKILL)
    assert update(api, arn, _change(2)).status == 200
    description = api.settle(arn)
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["DatasetStats"]["TotalEntries"] == 1600
    wait_until(lambda: len(_helpers(pid)) == 1 and _helpers(pid) != [first])


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_the_helper_ends_with_its_server(start_server: Any, stop: signal.Signals) -> None:
    server = start_server()
    assert server.process is not None
    pid = server.process.pid
    wait_until(lambda: len(_helpers(pid)) == 1)
    (helper,) = _helpers(pid)
    server.stop(stop)
    wait_until(lambda: not Path(f"/proc/{helper}").exists() or _zombie(helper))


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_no_engine_helper_starts_none_and_applies_the_jobs(start_server: Any) -> None:
    server = start_server("--no-engine-helper")
    assert server.process is not None
    api = Api(server.url)
    arn = new_dataset(api, "unhelped")
    assert update(api, arn, _change(3)).status == 200
    assert api.settle(arn)["DatasetStats"]["TotalEntries"] == 800
    assert _helpers(server.process.pid) == []
