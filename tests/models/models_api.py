"""What the model tests share: a server with local buckets of generated shapes, and boto3 steps
of a model's life."""

from __future__ import annotations

import io
import random
import re
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError, WaiterError
from PIL import Image
from shapes import SHAPES, draw

from support.lines import box_line, image_line
from support.server import ServerFactory, wait_until

FAST = {"Delay": 1, "MaxAttempts": 180}
VERSION_ARN = re.compile(
    r"^arn:aws:rekognition:us-east-1:\d{12}:project/[a-zA-Z0-9_.\-]+/version/"
    r"[a-zA-Z0-9_.\-]+/[0-9]+$"
)


def write_shapes(folder: Path, prefix: str, seed: int, per_shape: int) -> list[dict[str, Any]]:
    """PNG images of one shape each in the bucket folder; their classification lines."""
    rng = random.Random(seed)
    lines = []
    for shape in SHAPES:
        for n in range(per_shape):
            drawn = draw(rng, [shape])
            name = f"{prefix}/{shape}-{n}.png"
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            drawn.image.save(folder / name)
            lines.append(image_line(f"s3://images/{name}", shape))
    return lines


SIDE = 128  # of a scene of shapes with boxes


def write_several(folder: Path, prefix: str, seed: int, count: int) -> list[dict[str, Any]]:
    """PNG images of a circle, a square or both, with one image-level label per shape."""
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        present = rng.sample(["circle", "square"], rng.choice([1, 2]))
        name = f"{prefix}/several-{n}.png"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        draw(rng, present, size=SIDE).image.save(folder / name)
        lines.append(image_line(f"s3://images/{name}", *present))
    return lines


def write_scenes(folder: Path, prefix: str, seed: int, count: int) -> list[dict[str, Any]]:
    """PNG images of one to three shapes each, and their bounding-box lines."""
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        drawn = draw(rng, rng.sample(SHAPES, rng.randint(1, 3)), size=SIDE)
        name = f"{prefix}/scene-{n}.png"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        drawn.image.save(folder / name)
        boxes = [
            (shape, round(x0), round(y0), round(x1 - x0), round(y1 - y0))
            for shape, (x0, y0, x1, y1) in drawn.shapes
        ]
        lines.append(box_line(f"s3://images/{name}", boxes, size=(SIDE, SIDE)))
    return lines


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class Models:
    """A server with local buckets `images` (generated shapes) and `out` (model output)."""

    def __init__(self, start_server: ServerFactory, root: Path, *args: str) -> None:
        self.buckets = root / "buckets"
        (self.buckets / "images").mkdir(parents=True)
        (self.buckets / "out").mkdir()
        self.server = start_server("--local-buckets", str(self.buckets), *args)
        self.client = self.server.client()
        self.train_lines = write_shapes(self.buckets / "images", "train", seed=1, per_shape=12)
        self.test_lines = write_shapes(self.buckets / "images", "test", seed=2, per_shape=5)

    def project(self, train: bytes | None, test: bytes | None) -> str:
        arn = self.client.create_project(ProjectName=f"m-{uuid.uuid4().hex[:10]}")["ProjectArn"]
        for kind, lines in (("TRAIN", train), ("TEST", test)):
            if lines is None:
                continue
            dataset = self.client.create_dataset(ProjectArn=arn, DatasetType=kind)["DatasetArn"]
            if lines:
                self.client.update_dataset_entries(
                    DatasetArn=dataset, Changes={"GroundTruth": lines}
                )
            wait_until(
                lambda d=dataset: self.client.describe_dataset(DatasetArn=d)["DatasetDescription"][
                    "Status"
                ]
                in ("CREATE_COMPLETE", "UPDATE_COMPLETE"),
                what="the dataset was not updated",
            )
        return str(arn)

    def train(self, project: str, name: str = "v1", **extra: Any) -> str:
        arn = self.client.create_project_version(
            ProjectArn=project,
            VersionName=name,
            OutputConfig={"S3Bucket": "out", "S3KeyPrefix": "models/"},
            **extra,
        )["ProjectVersionArn"]
        return str(arn)

    def describe(self, project: str, name: str = "v1") -> dict[str, Any]:
        found = self.client.describe_project_versions(ProjectArn=project, VersionNames=[name])
        (description,) = found["ProjectVersionDescriptions"]
        return dict(description)

    def wait_trained(self, project: str, name: str = "v1") -> dict[str, Any]:
        waiter = self.client.get_waiter("project_version_training_completed")
        waiter.wait(ProjectArn=project, VersionNames=[name], WaiterConfig=FAST)
        return self.describe(project, name)

    def summary(self, described: dict[str, Any]) -> dict[str, Any]:
        """The evaluation summary file a trained version's description names."""
        name = described["EvaluationResult"]["Summary"]["S3Object"]["Name"]
        return dict(orjson.loads((self.buckets / "out" / name).read_bytes()))

    def run(self, project: str, version: str, name: str = "v1") -> None:
        """StartProjectVersion, then the waiter until it is RUNNING."""
        self.client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
        self.client.get_waiter("project_version_running").wait(
            ProjectArn=project, VersionNames=[name], WaiterConfig=FAST
        )

    def failed(self, project: str, name: str = "v1") -> dict[str, Any]:
        waiter = self.client.get_waiter("project_version_training_completed")
        with pytest.raises(WaiterError):
            waiter.wait(ProjectArn=project, VersionNames=[name], WaiterConfig=FAST)
        description = self.describe(project, name)
        assert description["Status"] == "TRAINING_FAILED"
        return description


def error_of(call: Any, **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )
