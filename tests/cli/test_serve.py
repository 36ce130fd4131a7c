"""`manifestdb serve`: settings by flag and environment, health, request log, in-memory mode."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

import manifestdb
from manifestdb.harness import free_port
from support.lines import image_line, manifest
from support.server import Server, new_dataset


def test_health_answers_with_the_version(server: Server):
    response = urllib3.PoolManager().request("GET", f"{server.url}/_manifestdb/health")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = orjson.loads(response.data)
    assert body["status"] == "ok"
    assert body["version"] == manifestdb.__version__


def test_settings_come_from_environment_variables(tmp_path: Path):
    port = free_port()
    data = tmp_path / "from-env"
    # Flags win over the environment, so start without --port/--data-dir flags.
    server = Server(
        port=port,
        port_flag=False,
        env={"MANIFESTDB_PORT": str(port), "MANIFESTDB_DATA_DIR": str(data)},
        log_path=tmp_path / "server.log",
    )
    assert "--port" not in server.command() and "--data-dir" not in server.command()
    with server:
        client = server.client()
        client.create_project(ProjectName="env")
        assert (data / "manifestdb.sqlite3").exists()


def test_each_request_is_logged_with_operation_status_and_time(start_server: Any):
    server = start_server()
    client = server.client()
    client.describe_projects()
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_dataset(
            DatasetArn="arn:aws:rekognition:us-east-1:123456789012:project/x/dataset/train/1"
        )
    log = server.log()
    assert re.search(r"DescribeProjects 200 \d+\.\d+ms", log)
    assert re.search(r"DescribeDataset 400 \d+\.\d+ms", log)


def test_in_memory_keeps_nothing_on_disk(start_server: Any, tmp_path: Path):
    data = tmp_path / "should-stay-empty"
    server = start_server("--in-memory", data_dir=data)
    client = server.client()
    _, train = new_dataset(client, manifest(image_line("s3://bkt/1.jpg", "cat")))
    assert (
        client.describe_dataset(DatasetArn=train)["DatasetDescription"]["DatasetStats"][
            "TotalEntries"
        ]
        == 1
    )
    assert not (data / "manifestdb.sqlite3").exists()
    server.stop()


def test_relaxed_limits_lift_the_label_cap(start_server: Any):
    lines = manifest(*(image_line(f"s3://bkt/{i}.jpg", f"label-{i}") for i in range(251)))
    strict = start_server().client()
    _, train = new_dataset(strict, lines)
    description = strict.describe_dataset(DatasetArn=train)["DatasetDescription"]
    assert description["Status"] == "UPDATE_FAILED"
    assert description["StatusMessage"].startswith("ERROR_MANIFEST_TOO_MANY_LABELS")
    relaxed = start_server("--limits", "relaxed").client()
    _, train = new_dataset(relaxed, lines)
    description = relaxed.describe_dataset(DatasetArn=train)["DatasetDescription"]
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["DatasetStats"]["TotalLabels"] == 251


def test_an_unknown_limit_profile_is_refused(tmp_path: Path):
    server = Server(tmp_path, ["--limits", "huge"], port=free_port())
    result = subprocess.run(
        server.command(), capture_output=True, text=True, timeout=60, env=server.env
    )
    assert result.returncode == 2
    assert "--limits" in result.stderr
