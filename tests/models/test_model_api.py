"""Models through boto3, on a real server: CreateProjectVersion trains an image classifier on
generated shapes, botocore's waiters see it through TRAINING_COMPLETED and RUNNING, the summary
file has AWS's shape and agrees with DescribeProjectVersions, DetectCustomLabels names held-out
shapes, and every refusal is AWS's error."""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from models_api import (
    FAST,
    SIDE,
    VERSION_ARN,
    Models,
    error_of,
    png,
    write_scenes,
    write_several,
)
from PIL import Image
from shapes import SHAPES, draw

from manifestdb.models.evaluate import iou
from support.lines import manifest
from support.server import ServerFactory, wait_until


@pytest.fixture(scope="module")
def models(
    start_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Models]:
    models = Models(start_server, tmp_path_factory.mktemp("models"))
    yield models
    models.server.stop()


@pytest.fixture(scope="module")
def trained(models: Models) -> tuple[str, str]:
    """(project ARN, version ARN) of a classifier trained on the shapes, RUNNING."""
    project = models.project(manifest(*models.train_lines), manifest(*models.test_lines))
    version = models.train(project, VersionDescription="shapes", Tags={"team": "vision"})
    assert VERSION_ARN.match(version)
    early = models.describe(project)
    assert early["Status"] == "TRAINING_IN_PROGRESS"
    assert early["StatusMessage"].startswith(("The model is being trained", "Training: "))
    assert "EvaluationResult" not in early
    models.wait_trained(project)
    return project, version


def test_training_is_described_and_evaluated_as_aws_does(
    models: Models, trained: tuple[str, str]
) -> None:
    project, version = trained
    described = models.describe(project)
    assert described["ProjectVersionArn"] == version
    assert described["Status"] == "TRAINING_COMPLETED"
    assert described["StatusMessage"].startswith("The model is ready to use. F1 score")
    assert described["OutputConfig"] == {"S3Bucket": "out", "S3KeyPrefix": "models/"}
    assert described["VersionDescription"] == "shapes"
    assert described["Feature"] == "CUSTOM_LABELS"
    assert described["BillableTrainingTimeInSeconds"] >= 1
    assert described["TrainingEndTimestamp"] >= described["CreationTimestamp"]
    f1 = described["EvaluationResult"]["F1Score"]
    assert f1 >= 0.9
    project_name = project.split(":project/")[1].split("/")[0]
    summary_object = described["EvaluationResult"]["Summary"]["S3Object"]
    assert summary_object == {
        "Bucket": "out",
        "Name": f"models/EvaluationSummary-{project_name}-v1.json",
    }
    summary = orjson.loads((models.buckets / "out" / summary_object["Name"]).read_bytes())
    assert summary["Version"] == 1
    assert summary["AggregatedEvaluationResults"]["F1Score"] == pytest.approx(f1)
    details = summary["EvaluationDetails"]
    assert details["ProjectVersionArn"] == version
    assert sorted(details["Labels"]) == sorted(SHAPES)
    assert details["NumberOfTrainingImages"] == 3 * 12
    assert details["NumberOfTestingImages"] == 3 * 5
    by_label = {item["Label"]: item for item in summary["LabelEvaluationResults"]}
    assert sorted(by_label) == sorted(SHAPES)
    for item in summary["LabelEvaluationResults"]:
        assert item["NumberOfTestingImages"] == 5
        assert set(item["Metrics"]) == {"F1Score", "Precision", "Recall", "Threshold"}
        assert 0 <= item["Metrics"]["Threshold"] <= 1
    f1s = [item["Metrics"]["F1Score"] for item in summary["LabelEvaluationResults"]]
    assert f1s == sorted(f1s, reverse=True)  # AWS sorts labels by F1
    assert sum(f1s) / len(f1s) == pytest.approx(f1)
    matrix = summary["AggregatedEvaluationResults"]["ConfusionMatrix"]
    assert len(matrix) == 9
    for shape in SHAPES:
        row = [cell["Value"] for cell in matrix if cell["GroundTruthLabel"] == shape]
        assert sum(row) == pytest.approx(1.0)
    # The snapshots of the data it was trained and tested on.
    for result, count in (("TrainingDataResult", 36), ("TestingDataResult", 15)):
        (asset,) = described[result]["Output"]["Assets"]
        snapshot = models.buckets / "out" / asset["GroundTruthManifest"]["S3Object"]["Name"]
        assert len(snapshot.read_bytes().splitlines()) == count
    summary_file = described["ManifestSummary"]["S3Object"]["Name"]
    statistics = orjson.loads((models.buckets / "out" / summary_file).read_bytes())["statistics"]
    assert statistics["training_images"] == 36
    assert models.client.list_tags_for_resource(ResourceArn=version)["Tags"] == {"team": "vision"}


def test_a_running_model_detects_held_out_shapes(models: Models, trained: tuple[str, str]) -> None:
    project, version = trained
    client = models.client
    code, status, message = error_of(
        client.detect_custom_labels,
        ProjectVersionArn=version,
        Image={"Bytes": png(draw(random.Random(9), ["circle"]).image)},
    )
    assert (code, status) == ("ResourceNotReadyException", 400)
    assert "TRAINING_COMPLETED, not RUNNING" in message
    started = client.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    assert started["Status"] == "STARTING"
    client.get_waiter("project_version_running").wait(
        ProjectArn=project, VersionNames=["v1"], WaiterConfig=FAST
    )
    described = models.describe(project)
    assert described["Status"] == "RUNNING"
    assert described["MinInferenceUnits"] == 1
    rng = random.Random(77)
    right = 0
    for n in range(30):
        shape = SHAPES[n % 3]
        found = client.detect_custom_labels(
            ProjectVersionArn=version,
            Image={"Bytes": png(draw(rng, [shape]).image)},
            MinConfidence=0,
        )["CustomLabels"]
        right += found[0]["Name"] == shape
    assert right >= 27
    image = png(draw(rng, ["square"]).image)
    everything = client.detect_custom_labels(
        ProjectVersionArn=version, Image={"Bytes": image}, MinConfidence=0
    )["CustomLabels"]
    assert sorted(label["Name"] for label in everything) == sorted(SHAPES)
    confidences = [label["Confidence"] for label in everything]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= c <= 100 for c in confidences)
    assert sum(confidences) == pytest.approx(100, abs=0.01)  # one label an image: softmax
    top = client.detect_custom_labels(
        ProjectVersionArn=version, Image={"Bytes": image}, MinConfidence=0, MaxResults=1
    )["CustomLabels"]
    assert top == everything[:1]
    between = (confidences[0] + confidences[1]) / 2
    high = client.detect_custom_labels(
        ProjectVersionArn=version, Image={"Bytes": image}, MinConfidence=between
    )["CustomLabels"]
    assert high == everything[:1]
    # Without MinConfidence: the labels at or above their assumed thresholds.
    summary = models.summary(described)
    thresholds = {
        item["Label"]: item["Metrics"]["Threshold"] for item in summary["LabelEvaluationResults"]
    }
    assumed = client.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})[
        "CustomLabels"
    ]
    assert [label["Name"] for label in assumed] == [
        label["Name"]
        for label in everything
        if label["Confidence"] >= 100 * thresholds[label["Name"]] - 1e-3
    ]
    # From S3 (a local bucket) as from bytes.
    (models.buckets / "images" / "probe.png").write_bytes(image)
    from_s3 = client.detect_custom_labels(
        ProjectVersionArn=version,
        Image={"S3Object": {"Bucket": "images", "Name": "probe.png"}},
        MinConfidence=0,
    )["CustomLabels"]
    assert [label["Name"] for label in from_s3] == [label["Name"] for label in everything]


@pytest.mark.parametrize(
    ("image", "code", "says"),
    [
        ({"Bytes": b"not an image at all"}, "InvalidImageFormatException", "not a PNG or JPEG"),
        ({"Bytes": "gif"}, "InvalidImageFormatException", "the image is GIF"),
        ({"Bytes": "wide"}, "ImageTooLargeException", "5000x10 pixels"),
        (
            {"S3Object": {"Bucket": "images", "Name": "absent.png"}},
            "InvalidS3ObjectException",
            "does not exist",
        ),
        (
            {"S3Object": {"Bucket": "images", "Name": "huge.png"}},
            "ImageTooLargeException",
            "at most 15728640 bytes",
        ),
        ({"Bytes": "over 5 MiB"}, "ValidationException", "length less than or equal to 5242880"),
    ],
)
def test_detect_refuses_what_is_not_a_usable_image(
    models: Models, trained: tuple[str, str], image: dict[str, Any], code: str, says: str
) -> None:
    project, version = trained
    if models.describe(project)["Status"] != "RUNNING":
        models.run(project, version)
    if image.get("Bytes") == "gif":
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32)).save(buffer, "GIF")
        image = {"Bytes": buffer.getvalue()}
    elif image.get("Bytes") == "wide":
        image = {"Bytes": png(Image.new("RGB", (5000, 10)))}
    elif image.get("Bytes") == "over 5 MiB":
        image = {"Bytes": b"\x89PNG" + bytes(5 * 1024 * 1024)}
    (models.buckets / "images" / "huge.png").write_bytes(bytes(15 * 1024 * 1024 + 1))
    # No client-side check: the server's answer is what is tested.
    unchecked = models.server.client(parameter_validation=False)
    found = error_of(unchecked.detect_custom_labels, ProjectVersionArn=version, Image=image)
    assert found[:2] == (code, 400)
    assert says in found[2]


def test_stop_then_delete_and_the_rules_of_busy_models(
    models: Models, trained: tuple[str, str]
) -> None:
    project, version = trained
    client = models.client
    if models.describe(project)["Status"] != "RUNNING":
        models.run(project, version)
    code, _, message = error_of(client.delete_project_version, ProjectVersionArn=version)
    assert code == "ResourceInUseException" and "RUNNING" in message
    code, _, message = error_of(client.delete_project, ProjectArn=project)
    assert code == "ResourceInUseException" and "1 model" in message
    code, _, _ = error_of(
        client.start_project_version, ProjectVersionArn=version, MinInferenceUnits=1
    )
    assert code == "ResourceInUseException"
    assert client.stop_project_version(ProjectVersionArn=version)["Status"] == "STOPPING"
    wait_until(lambda: models.describe(project)["Status"] == "STOPPED", what="never STOPPED")
    code, _, message = error_of(
        client.detect_custom_labels,
        ProjectVersionArn=version,
        Image={"Bytes": png(draw(random.Random(3), ["circle"]).image)},
    )
    assert code == "ResourceNotReadyException" and "STOPPED" in message
    assert client.delete_project_version(ProjectVersionArn=version)["Status"] == "DELETING"
    assert client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"] == []
    code, _, _ = error_of(client.stop_project_version, ProjectVersionArn=version)
    assert code == "ResourceNotFoundException"
    assert client.delete_project(ProjectArn=project)["Status"] == "DELETING"


def test_datasets_a_model_cannot_learn_from_fail_its_training_with_a_reason(
    models: Models,
) -> None:
    unlabeled = manifest(*[{"source-ref": line["source-ref"]} for line in models.train_lines])
    one_label = manifest(*[line for line in models.train_lines if "circle" in line["source-ref"]])
    test = manifest(*models.test_lines)
    for lines, says in (
        (b"", "no labeled image"),
        (unlabeled, "no labeled image"),
        (one_label, "one label only ('circle')"),
    ):
        project = models.project(lines, test)
        models.train(project)
        assert says in models.failed(project)["StatusMessage"]
    project = models.project(manifest(*models.train_lines), b"")
    models.train(project)
    assert "The testing dataset has no image" in models.failed(project)["StatusMessage"]


def test_create_project_version_refuses_what_it_cannot_train(models: Models) -> None:
    client = models.client
    train = manifest(*models.train_lines)
    no_test = models.project(train, None)
    code, status, message = error_of(
        client.create_project_version,
        ProjectArn=no_test,
        VersionName="v1",
        OutputConfig={"S3Bucket": "out"},
    )
    assert (code, status) == ("InvalidParameterException", 400)
    assert "no TEST dataset" in message and "AutoCreate" in message
    nothing = client.create_project(ProjectName=f"e-{uuid.uuid4().hex[:8]}")["ProjectArn"]
    code, _, message = error_of(
        client.create_project_version,
        ProjectArn=nothing,
        VersionName="v1",
        OutputConfig={"S3Bucket": "out"},
    )
    assert code == "InvalidParameterException" and "no TRAIN dataset" in message
    code, _, message = error_of(
        client.create_project_version, ProjectArn=nothing, VersionName="v1", OutputConfig={}
    )
    assert code == "InvalidParameterException" and "OutputConfig.S3Bucket" in message
    gone = nothing.replace(nothing.rsplit("/", 1)[1], "1")
    code, _, _ = error_of(
        client.create_project_version,
        ProjectArn=gone,
        VersionName="v1",
        OutputConfig={"S3Bucket": "out"},
    )
    assert code == "ResourceNotFoundException"
    code, _, message = error_of(
        client.create_project_version,
        ProjectArn=no_test,
        VersionName="v1",
        OutputConfig={"S3Bucket": "out"},
        TrainingData={
            "Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": "images", "Name": "x"}}}]
        },
        TestingData={"AutoCreate": True},
    )
    assert code == "InvalidParameterException" and "does not exist" in message


def test_auto_create_splits_the_training_dataset_and_names_are_unique(models: Models) -> None:
    project = models.project(manifest(*models.train_lines), None)
    models.train(project, TestingData={"AutoCreate": True})
    code, _, message = error_of(
        models.client.create_project_version,
        ProjectArn=project,
        VersionName="v1",
        OutputConfig={"S3Bucket": "out"},
    )
    assert code == "ResourceInUseException" and "already has a version named v1" in message
    described = models.wait_trained(project)
    assert described["TestingDataResult"]["Input"]["AutoCreate"] is True
    details = models.summary(described)["EvaluationDetails"]
    assert details["NumberOfTrainingImages"] + details["NumberOfTestingImages"] == 36
    assert details["NumberOfTestingImages"] == round(36 * 0.2)


def test_training_from_manifests_in_training_data(models: Models) -> None:
    folder = models.buckets / "images" / "manifests"
    folder.mkdir(exist_ok=True)
    (folder / "train.manifest").write_bytes(manifest(*models.train_lines))
    (folder / "test.manifest").write_bytes(manifest(*models.test_lines))
    project = models.client.create_project(ProjectName=f"a-{uuid.uuid4().hex[:8]}")["ProjectArn"]

    def asset(name: str) -> dict[str, Any]:
        return {"GroundTruthManifest": {"S3Object": {"Bucket": "images", "Name": name}}}

    models.train(
        project,
        TrainingData={"Assets": [asset("manifests/train.manifest")]},
        TestingData={"Assets": [asset("manifests/test.manifest")]},
    )
    described = models.wait_trained(project)
    assert described["TrainingDataResult"]["Input"]["Assets"] == [asset("manifests/train.manifest")]
    assert described["EvaluationResult"]["F1Score"] >= 0.9


def test_a_detector_is_trained_on_boxes_and_finds_held_out_shapes(models: Models) -> None:
    folder = models.buckets / "images"
    train, test = write_scenes(folder, "scenes", 11, 45), write_scenes(folder, "scenes-t", 12, 15)
    project = models.project(manifest(*train), manifest(*test))
    version = models.train(project)
    described = models.wait_trained(project)
    assert described["EvaluationResult"]["F1Score"] >= 0.8
    summary = models.summary(described)
    aggregated = summary["AggregatedEvaluationResults"]
    assert "ConfusionMatrix" not in aggregated
    assert aggregated["AveragePrecision"] >= 0.8 and aggregated["AverageRecall"] >= 0.8
    assert sorted(summary["EvaluationDetails"]["Labels"]) == sorted(SHAPES)
    models.run(project, version)
    rng = random.Random(13)
    expected = matched = 0
    for _ in range(10):
        drawn = draw(rng, rng.sample(SHAPES, rng.randint(1, 3)), size=SIDE)
        found = models.client.detect_custom_labels(
            ProjectVersionArn=version, Image={"Bytes": png(drawn.image)}
        )["CustomLabels"]
        boxes = []
        for label in found:
            box = label["Geometry"]["BoundingBox"]
            assert 0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1
            assert box["Left"] + box["Width"] <= 1 + 1e-6
            boxes.append((label["Name"], (box["Left"], box["Top"], box["Width"], box["Height"])))
        for shape, (x0, y0, x1, y1) in drawn.shapes:
            truth = (x0 / SIDE, y0 / SIDE, (x1 - x0) / SIDE, (y1 - y0) / SIDE)
            expected += 1
            matched += any(name == shape and iou(box, truth) >= 0.5 for name, box in boxes)
    assert matched >= 0.8 * expected, (matched, expected)
    models.client.stop_project_version(ProjectVersionArn=version)


def test_describe_project_versions_pages_newest_first_and_filters_by_name(
    models: Models,
) -> None:
    client = models.client
    project = models.project(b"", manifest(*models.test_lines[:3]))
    arns = [models.train(project, name) for name in ("a", "b", "c")]
    for name in ("a", "b", "c"):
        models.failed(project, name)  # an empty training dataset: quick to end
    first = client.describe_project_versions(ProjectArn=project, MaxResults=2)
    assert [d["ProjectVersionArn"] for d in first["ProjectVersionDescriptions"]] == arns[:0:-1]
    second = client.describe_project_versions(
        ProjectArn=project, MaxResults=2, NextToken=first["NextToken"]
    )
    assert [d["ProjectVersionArn"] for d in second["ProjectVersionDescriptions"]] == arns[:1]
    assert "NextToken" not in second
    paginator = client.get_paginator("describe_project_versions")
    pages = list(paginator.paginate(ProjectArn=project, PaginationConfig={"PageSize": 1}))
    assert [p["ProjectVersionDescriptions"][0]["ProjectVersionArn"] for p in pages] == arns[::-1]
    named = client.describe_project_versions(ProjectArn=project, VersionNames=["c", "a", "zz"])
    assert [d["ProjectVersionArn"] for d in named["ProjectVersionDescriptions"]] == [
        arns[2],
        arns[0],
    ]
    code, _, _ = error_of(
        client.describe_project_versions,
        ProjectArn=project,
        VersionNames=["a"],
        NextToken=first["NextToken"],  # a token of another query
    )
    assert code == "InvalidPaginationTokenException"
    code, _, _ = error_of(
        client.describe_project_versions, ProjectArn=project, NextToken=first["NextToken"] + "x"
    )
    assert code == "InvalidPaginationTokenException"


def test_several_labels_an_image_train_a_multi_label_classifier(models: Models) -> None:
    folder = models.buckets / "images"
    train, test = write_several(folder, "multi", 21, 60), write_several(folder, "multi-t", 22, 20)
    project = models.project(manifest(*train), manifest(*test))
    version = models.train(project)
    described = models.wait_trained(project)
    assert described["EvaluationResult"]["F1Score"] >= 0.9
    summary = models.summary(described)
    assert "ConfusionMatrix" not in summary["AggregatedEvaluationResults"]  # not one label each
    assert sorted(summary["EvaluationDetails"]["Labels"]) == ["circle", "square"]
    models.run(project, version)
    rng = random.Random(23)
    right = 0
    for n in range(10):
        present = [["circle"], ["square"], ["circle", "square"]][n % 3]
        found = models.client.detect_custom_labels(
            ProjectVersionArn=version, Image={"Bytes": png(draw(rng, present, size=SIDE).image)}
        )["CustomLabels"]
        right += sorted(label["Name"] for label in found) == present
    assert right >= 8
    models.client.stop_project_version(ProjectVersionArn=version)
