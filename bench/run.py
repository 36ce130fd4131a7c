"""manifestdb benchmarks, over HTTP against a real `manifestdb serve` (see docs/benchmarks.md).

    python bench/run.py [--quick] [--runs N] [--output FILE]

Measures: a 5 MiB change (the largest legal one) from the call to UPDATE_COMPLETE into an empty
dataset; DescribeDataset and ListDatasetEntries latency; DescribeDataset requests/s with 8
concurrent clients (separate processes, on the same 2-core machine as the server).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import orjson
import urllib3

sys.path.insert(0, str(Path(__file__).parent))
from data import change

HEADERS = {"Content-Type": "application/x-amz-json-1.1"}


def start_server(data_dir: str, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "manifestdb.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            data_dir,
            "--log-level",
            "warning",
            "--limits",
            "relaxed",
        ],
    )
    http = urllib3.PoolManager()
    for _ in range(200):
        try:
            if (
                http.request(
                    "GET", f"http://127.0.0.1:{port}/_manifestdb/health", retries=False
                ).status
                == 200
            ):
                return process
        except urllib3.exceptions.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def wait_complete(client: Any, arn: str) -> str:
    while True:
        status = client.describe_dataset(DatasetArn=arn)["DatasetDescription"]["Status"]
        if not status.endswith("IN_PROGRESS"):
            return str(status)
        time.sleep(0.002)


def apply_change(client: Any, project: str, payload: bytes, run: int) -> float:
    arn = client.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    started = time.perf_counter()
    client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": payload})
    assert wait_complete(client, arn) == "UPDATE_COMPLETE"
    elapsed = time.perf_counter() - started
    client.delete_dataset(DatasetArn=arn)
    while True:
        try:
            client.describe_dataset(DatasetArn=arn)
            time.sleep(0.01)
        except client.exceptions.ResourceNotFoundException:
            return elapsed


def latency(url: str, target: str, body: dict[str, Any], count: int) -> dict[str, float]:
    http = urllib3.PoolManager()
    encoded = orjson.dumps(body)
    headers = {**HEADERS, "X-Amz-Target": f"RekognitionService.{target}"}
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = http.request("POST", url, body=encoded, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, response.data
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[int(len(times) * 0.99) - 1]}


def _hammer(args: tuple[str, bytes, float]) -> int:
    url, body, seconds = args
    http = urllib3.PoolManager()
    headers = {**HEADERS, "X-Amz-Target": "RekognitionService.DescribeDataset"}
    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        assert http.request("POST", url, body=body, headers=headers).status == 200
        done += 1
    return done


def throughput(url: str, arn: str, clients: int, seconds: float) -> float:
    body = orjson.dumps({"DatasetArn": arn})
    with multiprocessing.Pool(clients) as pool:
        counts = pool.map(_hammer, [(url, body, seconds)] * clients)
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter load")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--output", type=Path, default=None, help="write results as JSON")
    options = parser.parse_args()
    runs = options.runs or (3 if options.quick else 5)
    if not options.port:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            options.port = sock.getsockname()[1]
    payload, line_count = change(seed=7, start=0)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "change_bytes": len(payload),
        "change_lines": line_count,
    }
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(data_dir, options.port)
        try:
            url = f"http://127.0.0.1:{options.port}/"
            client = boto3.client(
                "rekognition",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )
            project = client.create_project(ProjectName="bench")["ProjectArn"]
            times = [apply_change(client, project, payload, run) for run in range(runs)]
            results["change_into_empty_s"] = {"median": statistics.median(times), "runs": times}
            arn = client.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
            client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": payload})
            wait_complete(client, arn)
            count = 500 if options.quick else 2000
            results["describe_dataset"] = latency(
                url, "DescribeDataset", {"DatasetArn": arn}, count
            )
            results["list_dataset_labels"] = latency(
                url, "ListDatasetLabels", {"DatasetArn": arn}, count
            )
            results["list_dataset_entries"] = latency(
                url, "ListDatasetEntries", {"DatasetArn": arn}, count // 4
            )
            results["describe_dataset_rps_8_clients"] = throughput(
                url, arn, 8, 3 if options.quick else 10
            )
        finally:
            server.terminate()
            server.wait(30)
    text = orjson.dumps(results, option=orjson.OPT_INDENT_2).decode()
    print(text)
    if options.output:
        options.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
