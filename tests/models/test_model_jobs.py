"""Training as a job: a server without the models extra says so, the time limit stops a training
with TRAINING_FAILED, and a training whose server is killed starts over after the restart and
completes (never TRAINING_IN_PROGRESS for good)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from models_api import Models, error_of, png, write_shapes
from shapes import draw

from support.lines import manifest
from support.server import ServerFactory, wait_until


def test_without_the_models_extra_model_operations_name_it(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    # The server's Python sees no torch: `import torch` fails as it does where it is not
    # installed (sys.modules holds None for it, set by a sitecustomize on PYTHONPATH).
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None\n")
    client = start_server(env={"PYTHONPATH": str(hide)}).client()
    project = client.create_project(ProjectName="no-torch")["ProjectArn"]
    code, status, message = error_of(
        client.create_project_version,
        ProjectArn=project,
        VersionName="v1",
        OutputConfig={"S3Bucket": "out"},
    )
    assert (code, status) == ("UnsupportedOperationException", 400)
    assert "pip install 'manifestdb[models]'" in message and "torch" in message
    version = project.rsplit("/", 1)[0] + "/version/v1/1"
    code, _, message = error_of(
        client.detect_custom_labels,
        ProjectVersionArn=version,
        Image={"Bytes": png(draw(random.Random(1), ["circle"]).image)},
    )
    assert code == "UnsupportedOperationException" and "manifestdb[models]" in message
    # What needs no torch still works: models can be listed and cleaned up.
    found = client.describe_project_versions(ProjectArn=project)
    assert found["ProjectVersionDescriptions"] == []
    code, _, _ = error_of(client.delete_project_version, ProjectVersionArn=version)
    assert code == "ResourceNotFoundException"


def test_the_time_limit_stops_a_training(make_models: Callable[..., Models]) -> None:
    models = make_models("--training-time-limit", "1")
    many = write_shapes(models.buckets / "images", "many", seed=5, per_shape=40)
    project = models.project(manifest(*many), manifest(*models.test_lines))
    models.train(project)
    message = models.failed(project)["StatusMessage"]
    assert "time limit of 1 s (--training-time-limit)" in message


def test_a_training_killed_with_its_server_starts_over_and_completes(
    make_models: Callable[..., Models],
) -> None:
    models = make_models()
    many = write_shapes(models.buckets / "images", "many", seed=6, per_shape=40)
    project = models.project(manifest(*many), manifest(*models.test_lines))
    models.train(project)
    wait_until(
        lambda: "Reading training images" in models.describe(project)["StatusMessage"],
        timeout=60,
        what="training never reached its images",
    )
    models.server.kill()
    models.server.start()
    models.client = models.server.client()
    described = models.describe(project)
    assert described["Status"] in ("TRAINING_IN_PROGRESS", "TRAINING_COMPLETED")
    described = models.wait_trained(project)
    assert described["Status"] == "TRAINING_COMPLETED"
    assert described["EvaluationResult"]["F1Score"] >= 0.9
