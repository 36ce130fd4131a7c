"""At scale on PostgreSQL: an API-only server queues the training, a `manifestdb worker` with the
models extra claims it from the shared queue (woken by NOTIFY), and the server serves the model
the worker trained."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from models_api import Models, png
from shapes import draw

from manifestdb.harness import WorkerProcess
from support.lines import manifest
from support.server import Server

pytestmark = pytest.mark.postgres


def test_a_worker_trains_what_an_api_only_server_queued(database: str, tmp_path: Path) -> None:
    started: list[Any] = []

    def start_server(*args: str) -> Server:
        server = Server(tmp_path / "server", ["--no-runner", *args], database_url=database)
        started.append(server.start())
        return server

    try:
        models = Models(start_server, tmp_path)
        worker = WorkerProcess(
            database,
            tmp_path / "worker.log",
            ["--local-buckets", str(models.buckets), "--lease-seconds", "5"],
        )
        started.append(worker)
        project = models.project(manifest(*models.train_lines), manifest(*models.test_lines))
        version = models.train(project)
        described = models.wait_trained(project)
        assert described["EvaluationResult"]["F1Score"] >= 0.9
        assert "job" in worker.log() and "train" in worker.log()
        models.run(project, version)
        found = models.client.detect_custom_labels(
            ProjectVersionArn=version,
            Image={"Bytes": png(draw(random.Random(8), ["triangle"]).image)},
            MinConfidence=0,
        )["CustomLabels"]
        assert found[0]["Name"] == "triangle"
    finally:
        for part in reversed(started):
            part.stop()
