"""The jobs of models: training a project version (CreateProjectVersion), and the status steps
of starting and stopping one.

A training job reads its images' lines in one snapshot (from the project's datasets, or the
manifests of TrainingData/TestingData), trains and evaluates the model (`models.training`),
writes the evaluation summary and the manifest snapshots to the version's OutputConfig, then in
ONE transaction keeps the model and sets TRAINING_COMPLETED. Progress goes to the version's
StatusMessage as it runs. What stops it with TRAINING_FAILED and a message that says why: data a
model cannot learn from, an output it cannot write, the time limit, or being interrupted
MAX_ATTEMPTS times (a killed worker's job is claimed again once its lease passes, and starts
over).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from PIL import Image

from manifestdb import objects
from manifestdb.config import Settings
from manifestdb.jobs.distribute import choose_test_entries
from manifestdb.jobs.steps import Steps, close_job
from manifestdb.manifest.edit import image_labels, training_boxes
from manifestdb.states import JobState, ProjectVersionStatus
from manifestdb.store import JobRecord, Store

if TYPE_CHECKING:
    from manifestdb.models.evaluate import Evaluation
    from manifestdb.models.training import Example, Trained

Row = tuple[int, str, dict[str, int]]  # (seq, line, labels) of an entry
MAX_ATTEMPTS = 3
PROGRESS_SECONDS = 1.0  # the StatusMessage is rewritten at most this often
TRAINING = ProjectVersionStatus.TRAINING_IN_PROGRESS
MAX_IMAGE_BYTES = 15 * 1024 * 1024  # AWS's limit on a training image


class TrainingStopped(Exception):
    """Training cannot go on: the message is the version's StatusMessage."""


def summary_key(prefix: str, project: str, version: str) -> str:
    """Where the evaluation summary goes: AWS's file name under the OutputConfig prefix."""
    return f"{prefix}EvaluationSummary-{project}-{version}.json"


def output_keys(prefix: str, project: str, version: str) -> dict[str, str]:
    """Every object a training writes under the OutputConfig prefix (docs/models.md)."""
    base = f"{prefix}{project}/{version}/"
    return {
        "summary": summary_key(prefix, project, version),
        "train": base + "manifests/train.manifest",
        "test": base + "manifests/test.manifest",
        "manifest_summary": base + "manifests/manifest_summary.json",
    }


class _Progress:
    """Writes a training's progress to its StatusMessage (at most once a PROGRESS_SECONDS) and
    stops it once its time limit has passed."""

    def __init__(self, store: Store, version_id: int, deadline: float, limit: float) -> None:
        self.store = store
        self.version_id = version_id
        self.deadline = deadline
        self.limit = limit
        self._last = 0.0

    def __call__(self, message: str) -> None:
        now = time.time()
        if now > self.deadline:
            raise TrainingStopped(
                f"Training stopped: it ran longer than its time limit of {self.limit:g} s "
                "(--training-time-limit). Raise the limit, or train on fewer images."
            )
        if now - self._last < PROGRESS_SECONDS:
            return
        self._last = now
        with self.store.write() as tx:
            tx.set_project_version_status(
                self.version_id, TRAINING, f"Training: {message}.", only_if=[TRAINING]
            )


def train_version(steps: Steps, job: JobRecord) -> None:
    version_id = int(job.params["version_id"])
    started = time.time()
    with steps.store.read() as tx:
        version = tx.project_version_by_id(version_id)
    if version is None or version.status != TRAINING:
        with steps.store.write() as tx:  # deleted, or ended by an earlier attempt
            close_job(tx, job, JobState.DONE)
        return
    if job.attempts > MAX_ATTEMPTS:
        _fail(
            steps,
            job,
            version_id,
            f"Training was interrupted {job.attempts - 1} times (the process training it "
            "stopped before it finished): create a new version to train again.",
        )
        return
    limit = steps.settings.training_time_limit
    progress = _Progress(steps.store, version_id, started + limit, limit)
    try:
        progress("reading the datasets")
        training, testing = _snapshot(steps, job)
        from manifestdb.models.training import TrainingRefused, train

        try:
            trained = train(training.examples, testing.examples, progress)
        except TrainingRefused as refused:
            raise TrainingStopped(str(refused)) from None
        progress("writing the evaluation")
        details = _write_outputs(steps.settings, job, version.arn, trained, training, testing)
    except TrainingStopped as stopped:
        _fail(steps, job, version_id, str(stopped))
        return
    now = time.time()
    f1 = trained.evaluation.f1
    message = f"The model is ready to use. F1 score {f1:.3f} on {trained.testing_images} images."
    if trained.unreadable:
        name, why = trained.unreadable[0]
        message += (
            f" {len(trained.unreadable)} images could not be read and were left out "
            f"(first: {name}: {why})."
        )
    artifact = trained.model.to_bytes()
    with steps.store.write() as tx:
        tx.save_model_artifact(version_id, artifact)
        tx.set_project_version_status(
            version_id,
            ProjectVersionStatus.TRAINING_COMPLETED,
            message,
            only_if=[TRAINING],
            training_end=now,
            billable_seconds=max(1, round(now - started)),
            details=details,
        )
        close_job(tx, job, JobState.DONE)


def _fail(steps: Steps, job: JobRecord, version_id: int, message: str) -> None:
    with steps.store.write() as tx:
        tx.set_project_version_status(
            version_id,
            ProjectVersionStatus.TRAINING_FAILED,
            message,
            only_if=[TRAINING],
            training_end=time.time(),
        )
        close_job(tx, job, JobState.FAILED, message)


# -- the data ------------------------------------------------------------------------------------


class _Data:
    """The lines of one side (training or testing) and their examples."""

    def __init__(self, lines: list[str], examples: list[Example]) -> None:
        self.lines = lines
        self.examples = examples


def _loader(settings: Settings, s3_object: dict[str, str]) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        size = objects.check_s3_object(settings, s3_object)
        if size > MAX_IMAGE_BYTES:
            raise ValueError(f"{size} bytes, over the {MAX_IMAGE_BYTES} bytes of an image")
        data = b"".join(objects.read_s3_object(settings, s3_object))
        image = Image.open(io.BytesIO(data))
        if image.format not in ("JPEG", "PNG"):
            raise ValueError(f"a {image.format} image; images must be PNG or JPEG")
        image.load()
        return image

    return load


def _examples(settings: Settings, lines: list[str]) -> list[Example]:
    from manifestdb.models.training import Example

    found = []
    for text in lines:
        line = orjson.loads(text)
        source_ref = line.get("source-ref")
        s3_object = objects.s3_object_of(source_ref) if type(source_ref) is str else None
        if s3_object is None:
            continue
        found.append(
            Example(
                source_ref,
                _loader(settings, s3_object),
                tuple(dict.fromkeys(image_labels(line))),
                tuple(training_boxes(line)),
            )
        )
    return found


def _dataset_lines(steps: Steps, dataset_id: int, what: str) -> list[Row]:
    with steps.store.read() as tx:
        if tx.dataset_by_id(dataset_id) is None:
            raise TrainingStopped(
                f"The {what} dataset was deleted before training started: create a new version."
            )
        rows = [row for batch in tx.entry_rows(dataset_id) for row in batch]
    return rows


def _manifest_lines(settings: Settings, assets: list[dict[str, Any]], what: str) -> list[str]:
    lines = []
    for asset in assets:
        s3_object = asset["GroundTruthManifest"]["S3Object"]
        try:
            data = b"".join(objects.read_s3_object(settings, s3_object))
        except objects.ObjectUnreadable as error:
            raise TrainingStopped(f"The {what} manifest cannot be read: {error}") from None
        except Exception as error:  # S3's own errors
            raise TrainingStopped(
                f"The {what} manifest s3://{s3_object['Bucket']}/{s3_object['Name']} cannot "
                f"be read: {error}"
            ) from None
        for raw in data.splitlines():
            if raw.strip():
                try:
                    orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue  # as a dataset would, a line that is not JSON is left out
                lines.append(raw.decode("utf-8", "replace"))
    return lines


def _snapshot(steps: Steps, job: JobRecord) -> tuple[_Data, _Data]:
    params = job.params
    settings = steps.settings
    if params.get("train_dataset_id") is not None:
        rows = _dataset_lines(steps, int(params["train_dataset_id"]), "training")
        train_lines = [line for _, line, _ in rows]
        if params.get("test_dataset_id") is not None:
            test_rows = _dataset_lines(steps, int(params["test_dataset_id"]), "testing")
            test_lines = [line for _, line, _ in test_rows]
        else:
            train_lines, test_lines = _split(rows, job)
    else:
        train_lines = _manifest_lines(settings, params["training_assets"], "training")
        if params.get("testing_assets"):
            test_lines = _manifest_lines(settings, params["testing_assets"], "testing")
        else:
            rows = []
            for index, line in enumerate(train_lines):
                labels = image_labels(orjson.loads(line))
                rows.append((index, line, dict.fromkeys(labels, 0)))
            train_lines, test_lines = _split(rows, job)
    return (
        _Data(train_lines, _examples(settings, train_lines)),
        _Data(test_lines, [e for e in _examples(settings, test_lines) if e.labels or e.boxes]),
    )


def _split(rows: list[Row], job: JobRecord) -> tuple[list[str], list[str]]:
    """TestingData.AutoCreate: 20 % of the labeled training lines test the model (the rule of
    DistributeDatasetEntries, seeded by the version's ARN)."""
    labeled = [(seq, labels) for seq, _, labels in rows if labels]
    chosen = choose_test_entries(labeled, seed=str(job.params["version_arn"]))
    train = [line for seq, line, _ in rows if seq not in chosen]
    test = [line for seq, line, _ in rows if seq in chosen]
    return train, test


# -- what training writes ----------------------------------------------------------------------


def _write_outputs(
    settings: Settings,
    job: JobRecord,
    version_arn: str,
    trained: Trained,
    training: _Data,
    testing: _Data,
) -> dict[str, Any]:
    """Write the summary file and the manifest snapshots; what DescribeProjectVersions shows of
    them (the version's `details`)."""
    params = job.params
    bucket, prefix = params["output_bucket"], params["output_prefix"]
    keys = output_keys(prefix, params["project_name"], params["version_name"])
    evaluation = trained.evaluation
    summary = summary_file(version_arn, trained, evaluation)
    manifest_summary = {
        "version": 1,
        "statistics": {
            "total_json_lines": len(training.lines) + len(testing.lines),
            "training_json_lines": len(training.lines),
            "testing_json_lines": len(testing.lines),
            "training_images": trained.training_images,
            "testing_images": trained.testing_images,
            "unreadable_images": len(trained.unreadable),
        },
        "errors": [{"source-ref": name, "message": why} for name, why in trained.unreadable],
    }
    for key, data in (
        (keys["summary"], orjson.dumps(summary, option=orjson.OPT_INDENT_2)),
        (keys["train"], "".join(line + "\n" for line in training.lines).encode()),
        (keys["test"], "".join(line + "\n" for line in testing.lines).encode()),
        (keys["manifest_summary"], orjson.dumps(manifest_summary, option=orjson.OPT_INDENT_2)),
    ):
        try:
            objects.write_s3_object(settings, bucket, key, data)
        except objects.ObjectUnreadable as error:
            raise TrainingStopped(
                f"The model was trained but its output cannot be written: {error} Check "
                "OutputConfig, then create a new version."
            ) from None

    def asset(key: str) -> list[dict[str, Any]]:
        return [{"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}}]

    def given(name: str, fallback: str) -> list[dict[str, Any]]:
        return params.get(name) or asset(fallback)

    return {
        "kind": trained.model.kind,
        "labels": trained.model.labels,
        "f1": evaluation.f1,
        "summary": {"Bucket": bucket, "Name": keys["summary"]},
        "manifest_summary": {"Bucket": bucket, "Name": keys["manifest_summary"]},
        "training": {
            "Input": {"Assets": given("training_assets", keys["train"])},
            "Output": {"Assets": asset(keys["train"])},
        },
        "testing": {
            "Input": {
                "Assets": given("testing_assets", keys["test"]),
                "AutoCreate": bool(params.get("auto_create")),
            },
            "Output": {"Assets": asset(keys["test"])},
        },
    }


def summary_file(version_arn: str, trained: Trained, evaluation: Evaluation) -> dict[str, Any]:
    """The evaluation summary in the shape of AWS's summary file (Version 1)."""
    aggregated: dict[str, Any] = {
        "F1Score": evaluation.f1,
        "Precision": evaluation.precision,
        "Recall": evaluation.recall,
    }
    if evaluation.confusion:
        aggregated["ConfusionMatrix"] = [
            {"GroundTruthLabel": truth, "PredictedLabel": predicted, "Value": value}
            for truth, predicted, value in evaluation.confusion
        ]
    if evaluation.average_precision is not None:
        aggregated["AveragePrecision"] = evaluation.average_precision
        aggregated["AverageRecall"] = evaluation.average_recall
    return {
        "Version": 1,
        "AggregatedEvaluationResults": aggregated,
        "EvaluationDetails": {
            "EvaluationEndTimestamp": datetime.now(UTC).replace(tzinfo=None).isoformat(),
            "Labels": trained.model.labels,
            "NumberOfTestingImages": trained.testing_images,
            "NumberOfTrainingImages": trained.training_images,
            "ProjectVersionArn": version_arn,
        },
        "LabelEvaluationResults": [
            {
                "Label": metrics.label,
                "Metrics": {
                    "F1Score": metrics.f1,
                    "Precision": metrics.precision,
                    "Recall": metrics.recall,
                    "Threshold": metrics.threshold,
                },
                "NumberOfTestingImages": metrics.testing_images,
            }
            for metrics in evaluation.labels
        ],
    }


# -- starting and stopping -----------------------------------------------------------------------


def start_version(steps: Steps, job: JobRecord) -> None:
    """STARTING -> RUNNING once the model is there to serve (each server loads it on its first
    DetectCustomLabels, `service.models`)."""
    version_id = int(job.params["version_id"])
    with steps.store.write() as tx:
        if tx.model_artifact(version_id) is None:
            tx.set_project_version_status(
                version_id,
                ProjectVersionStatus.FAILED,
                "The model cannot start: its trained weights are missing. Train a new version.",
                only_if=[ProjectVersionStatus.STARTING],
            )
        else:
            tx.set_project_version_status(
                version_id,
                ProjectVersionStatus.RUNNING,
                "The model is running.",
                only_if=[ProjectVersionStatus.STARTING],
            )
        close_job(tx, job, JobState.DONE)


def stop_version(steps: Steps, job: JobRecord) -> None:
    """STOPPING -> STOPPED: servers answer ResourceNotReadyException from then on."""
    with steps.store.write() as tx:
        tx.set_project_version_status(
            int(job.params["version_id"]),
            ProjectVersionStatus.STOPPED,
            "The model is stopped.",
            only_if=[ProjectVersionStatus.STOPPING],
        )
        close_job(tx, job, JobState.DONE)
