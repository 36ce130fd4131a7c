"""Durability: data survives a restart, and a job cut off by a kill completes after restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from support.lines import image_line, manifest
from support.server import all_entries, new_dataset, wait_for_status


def test_data_survives_a_restart(start_server: Any, tmp_path: Path):
    server = start_server(data_dir=tmp_path / "data")
    client = server.client()
    _, train = new_dataset(
        client, manifest(*(image_line(f"s3://bkt/{i}.jpg", f"l{i % 4}") for i in range(30)))
    )
    before = all_entries(client, train)
    description = client.describe_dataset(DatasetArn=train)["DatasetDescription"]
    assert server.stop() == 0  # SIGTERM: a clean stop
    server.start()
    client = server.client()
    assert all_entries(client, train) == before
    assert client.describe_dataset(DatasetArn=train)["DatasetDescription"] == description


def test_a_job_interrupted_by_a_kill_completes_after_restart(start_server: Any, tmp_path: Path):
    server = start_server("--job-delay", "3", data_dir=tmp_path / "data")
    client = server.client()
    _, train = new_dataset(client)
    client.update_dataset_entries(
        DatasetArn=train,
        Changes={"GroundTruth": manifest(*(image_line(f"s3://bkt/{i}", "x") for i in range(40)))},
    )
    assert (
        client.describe_dataset(DatasetArn=train)["DatasetDescription"]["Status"]
        == "UPDATE_IN_PROGRESS"
    )
    time.sleep(0.5)  # the runner has claimed the job and is waiting on the delay
    server.kill()
    server.args = []  # no delay after the restart
    server.start()
    client = server.client()
    description = wait_for_status(client, train)
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["DatasetStats"]["TotalEntries"] == 40
    assert len(all_entries(client, train)) == 40
