"""Model operations: CreateProjectVersion, DescribeProjectVersions, StartProjectVersion,
StopProjectVersion, DeleteProjectVersion and DetectCustomLabels (docs/models.md).

A model's life is AWS's status machine: TRAINING_IN_PROGRESS -> TRAINING_COMPLETED |
TRAINING_FAILED (a training job, `jobs.training`), STARTING -> RUNNING (a start job), STOPPING
-> STOPPED (a stop job); DeleteProjectVersion removes a model that is not busy (`MODEL_BUSY`).
A RUNNING model is loaded by each server on its first DetectCustomLabels and kept (`_Served`).
Training, starting and detecting need the `models` extra in this server; the other operations
work without it, so models can be looked at and cleaned up anywhere.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from PIL import Image

from manifestdb import models, objects
from manifestdb.service.arns import version_arn
from manifestdb.service.base import ServiceBase
from manifestdb.service.context import Caller
from manifestdb.service.errors import (
    ImageTooLargeException,
    InvalidImageFormatException,
    InvalidParameterException,
    InvalidS3ObjectException,
    NotImplementedOperationException,
    ResourceInUseException,
    ResourceNotReadyException,
)
from manifestdb.service.tags import check_new_tags
from manifestdb.states import (
    BUSY,
    MODEL_BUSY,
    DatasetType,
    JobKind,
    ProjectStatus,
    ProjectVersionStatus,
)
from manifestdb.store import Conflict, ProjectRecord, ProjectVersionRecord, Tx

if TYPE_CHECKING:
    from manifestdb.models.training import Model

S3_IMAGE_MAX_BYTES = 15 * 1024 * 1024  # an image DetectCustomLabels reads from S3
MAX_IMAGE_SIDE = 4096  # pixels, either side (AWS's limit on a Custom Labels image)
MODELS_KEPT = 8  # loaded models a server keeps (least recently used goes first)
TRAINING_MESSAGE = "The model is being trained: waiting for a worker."
Status = ProjectVersionStatus


def need_models(operation: str) -> None:
    """NotImplementedOperationException (UnsupportedOperationException) naming the extra when
    this server cannot run models."""
    missing = models.missing()
    if missing is not None:
        raise NotImplementedOperationException(
            f"{operation} cannot run: {missing}. DescribeProjectVersions, StopProjectVersion "
            "and DeleteProjectVersion work without it."
        )


class _Served:
    """The models this server has loaded, by version id (thread-safe, least recently used out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: OrderedDict[int, Model] = OrderedDict()

    def get(self, version_id: int) -> Model | None:
        with self._lock:
            model = self._models.get(version_id)
            if model is not None:
                self._models.move_to_end(version_id)
            return model

    def put(self, version_id: int, model: Model) -> None:
        with self._lock:
            self._models[version_id] = model
            while len(self._models) > MODELS_KEPT:
                self._models.popitem(last=False)

    def drop(self, version_id: int) -> None:
        with self._lock:
            self._models.pop(version_id, None)


class ModelOperations(ServiceBase):
    _served: _Served | None = None

    @property
    def served(self) -> _Served:
        if self._served is None:
            self._served = _Served()
        return self._served

    # -- CreateProjectVersion ------------------------------------------------------------------

    def create_project_version(
        self,
        caller: Caller,
        project_arn: str,
        version_name: str,
        output_config: dict[str, Any],
        training_data: dict[str, Any] | None = None,
        testing_data: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        kms_key_id: str | None = None,
        version_description: str | None = None,
        feature_config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        need_models("CreateProjectVersion")
        if feature_config is not None:
            raise InvalidParameterException(
                "FeatureConfig applies only to the CONTENT_MODERATION feature. Omit it."
            )
        bucket = output_config.get("S3Bucket")
        if not bucket:
            raise InvalidParameterException(
                "OutputConfig.S3Bucket is missing: name the bucket the evaluation summary and "
                "the manifest snapshots are written to."
            )
        prefix = output_config.get("S3KeyPrefix") or ""
        given_tags = check_new_tags(tags)
        sources = _sources(training_data, testing_data)
        for assets in (sources.get("training_assets"), sources.get("testing_assets")):
            for asset in assets or []:
                try:
                    objects.check_s3_object(self.settings, asset["GroundTruthManifest"]["S3Object"])
                except objects.ObjectUnreadable as unreadable:
                    raise InvalidParameterException(str(unreadable)) from None
        now = self.now()
        try:
            with self.store.write() as tx:
                project = self.project_for(tx, caller, project_arn, lock=True)
                if project.status == ProjectStatus.DELETING:
                    raise ResourceInUseException(
                        f"The project {project_arn} is being deleted: it takes no new model."
                    )
                if tx.project_version_named(project.id, version_name) is not None:
                    raise _name_taken(version_name, project_arn)
                if training_data is None:
                    sources.update(self._project_datasets(tx, project, sources))
                arn = version_arn(
                    caller.region, caller.account, project.name, version_name, int(now * 1000)
                )
                version = tx.insert_project_version(
                    project_id=project.id,
                    name=version_name,
                    arn=arn,
                    status=Status.TRAINING_IN_PROGRESS,
                    status_message=TRAINING_MESSAGE,
                    created_at=now,
                    output_bucket=bucket,
                    output_prefix=prefix,
                    kms_key_id=kms_key_id,
                    description=version_description,
                )
                tx.set_tags(arn, given_tags)
                tx.enqueue_job(
                    kind=JobKind.TRAIN,
                    project_id=project.id,
                    now=now,
                    params={
                        "version_id": version.id,
                        "version_arn": arn,
                        "version_name": version_name,
                        "project_name": project.name,
                        "output_bucket": bucket,
                        "output_prefix": prefix,
                        **sources,
                    },
                )
        except Conflict:  # another server created it between our check and our insert
            raise _name_taken(version_name, project_arn) from None
        self.job_queued()
        return {"ProjectVersionArn": arn}

    def _project_datasets(
        self, tx: Tx, project: ProjectRecord, sources: dict[str, Any]
    ) -> dict[str, Any]:
        """The project's datasets a training reads (no TrainingData given)."""
        found = {d.dataset_type: d for d in tx.datasets_of_projects([project.id])}
        train, test = found.get(DatasetType.TRAIN), found.get(DatasetType.TEST)
        if train is None:
            raise InvalidParameterException(
                f"The project {project.arn} has no TRAIN dataset: create one (CreateDataset) "
                "or give TrainingData."
            )
        if test is None and not sources.get("auto_create"):
            raise InvalidParameterException(
                f"The project {project.arn} has no TEST dataset: create one, or set "
                "TestingData.AutoCreate to test on 20% of the training images."
            )
        for dataset in (train, test):
            if dataset is not None and dataset.status in BUSY:
                raise ResourceInUseException(
                    f"The dataset {dataset.arn} is {dataset.status}: wait until it is no "
                    "longer *_IN_PROGRESS, then create the version."
                )
        return {
            "train_dataset_id": train.id,
            "test_dataset_id": None if test is None or sources.get("auto_create") else test.id,
        }

    # -- DescribeProjectVersions ---------------------------------------------------------------

    def describe_project_versions(
        self,
        caller: Caller,
        project_arn: str,
        version_names: list[str] | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        limit = max_results or 100
        query = {"project": project_arn, "names": sorted(version_names or [])}
        before = self.tokens.read(next_token, "DescribeProjectVersions", query)
        with self.store.read() as tx:
            project = self.project_for(tx, caller, project_arn)
            found = tx.list_project_versions(
                project.id,
                before_id=None if before is None else int(before),
                limit=limit + 1,
                names=version_names,
            )
        page = found[:limit]
        output: dict[str, Any] = {"ProjectVersionDescriptions": [_described(v) for v in page]}
        if len(found) > limit:
            output["NextToken"] = self.tokens.issue("DescribeProjectVersions", query, page[-1].id)
        return output

    # -- Start, Stop, Delete ---------------------------------------------------------------------

    def start_project_version(
        self,
        caller: Caller,
        project_version_arn: str,
        min_inference_units: int,
        max_inference_units: int | None = None,
    ) -> dict[str, Any]:
        need_models("StartProjectVersion")
        if max_inference_units is not None and max_inference_units < min_inference_units:
            raise InvalidParameterException(
                f"MaxInferenceUnits is {max_inference_units}, below MinInferenceUnits "
                f"({min_inference_units}): it must be at least as many."
            )
        now = self.now()
        with self.store.write() as tx:
            version = self.version_for(tx, caller, project_version_arn, lock=True)
            if version.status in (Status.STARTING, Status.RUNNING):
                raise ResourceInUseException(
                    f"The model {project_version_arn} is already {version.status}."
                )
            if version.status not in (Status.TRAINING_COMPLETED, Status.STOPPED, Status.FAILED):
                raise _not_now(version, "started", "TRAINING_COMPLETED, STOPPED or FAILED")
            tx.set_project_version_status(
                version.id,
                Status.STARTING,
                "The model is starting.",
                min_units=min_inference_units,
                max_units=max_inference_units,
            )
            tx.enqueue_job(
                kind=JobKind.START_MODEL,
                project_id=version.project_id,
                now=now,
                params={"version_id": version.id},
            )
        self.job_queued()
        return {"Status": Status.STARTING}

    def stop_project_version(self, caller: Caller, project_version_arn: str) -> dict[str, Any]:
        now = self.now()
        with self.store.write() as tx:
            version = self.version_for(tx, caller, project_version_arn, lock=True)
            if version.status == Status.STOPPING:
                return {"Status": Status.STOPPING}
            if version.status not in (Status.RUNNING, Status.STARTING):
                raise _not_now(version, "stopped", "RUNNING or STARTING")
            tx.set_project_version_status(version.id, Status.STOPPING, "The model is stopping.")
            tx.enqueue_job(
                kind=JobKind.STOP_MODEL,
                project_id=version.project_id,
                now=now,
                params={"version_id": version.id},
            )
        self.served.drop(version.id)
        self.job_queued()
        return {"Status": Status.STOPPING}

    def delete_project_version(self, caller: Caller, project_version_arn: str) -> dict[str, Any]:
        with self.store.write() as tx:
            version = self.version_for(tx, caller, project_version_arn, lock=True)
            if version.status in MODEL_BUSY:
                action = (
                    "wait until its training ends"
                    if version.status == Status.TRAINING_IN_PROGRESS
                    else "stop it (StopProjectVersion) and wait until it is STOPPED"
                )
                raise ResourceInUseException(
                    f"The model {project_version_arn} is {version.status}: {action}, then "
                    "delete it."
                )
            tx.delete_project_version_row(version.id)
        self.served.drop(version.id)
        return {"Status": Status.DELETING}

    # -- DetectCustomLabels --------------------------------------------------------------------

    def detect_custom_labels(
        self,
        caller: Caller,
        project_version_arn: str,
        image: dict[str, Any],
        max_results: int | None = None,
        min_confidence: float | None = None,
    ) -> dict[str, Any]:
        need_models("DetectCustomLabels")
        with self.store.read(snapshot=False) as tx:
            version = self.version_for(tx, caller, project_version_arn)
            if version.status != Status.RUNNING:
                self.served.drop(version.id)
                raise ResourceNotReadyException(
                    f"The model {project_version_arn} is {version.status}, not RUNNING: start "
                    "it (StartProjectVersion) and wait until it is RUNNING."
                )
            model = self.served.get(version.id)
            artifact = tx.model_artifact(version.id) if model is None else None
        if model is None:
            if artifact is None:
                raise ResourceNotReadyException(
                    f"The model {project_version_arn} has no trained weights to serve."
                )
            from manifestdb.models.training import Model

            model = Model.from_bytes(artifact)
            self.served.put(version.id, model)
        picture = self._image(image)
        found = []
        for detected in model.detect(picture):
            floor = (
                min_confidence
                if min_confidence is not None
                else 100.0 * model.thresholds.get(detected.label, 0.5)
            )
            if detected.confidence < floor:
                continue
            label: dict[str, Any] = {"Name": detected.label, "Confidence": detected.confidence}
            if detected.box is not None:
                left, top, width, height = detected.box
                label["Geometry"] = {
                    "BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top}
                }
            found.append(label)
        found.sort(key=lambda item: -float(item["Confidence"]))
        if max_results is not None:
            found = found[:max_results]
        return {"CustomLabels": found}

    def _image(self, image: dict[str, Any]) -> Image.Image:
        """The request's image, decoded; AWS's errors for what is not a usable image."""
        data = image.get("Bytes")
        s3_object = image.get("S3Object")
        if data is None and s3_object is None:
            raise InvalidParameterException("Image has neither Bytes nor S3Object: give one.")
        if data is not None and s3_object is not None:
            raise InvalidParameterException("Image has both Bytes and S3Object: give one.")
        if data is None:
            assert s3_object is not None
            if not s3_object.get("Bucket") or not s3_object.get("Name"):
                raise InvalidS3ObjectException("Image.S3Object needs both Bucket and Name.")
            try:
                size = objects.check_s3_object(self.settings, s3_object)
                if size > S3_IMAGE_MAX_BYTES:
                    raise ImageTooLargeException(
                        f"The image s3://{s3_object['Bucket']}/{s3_object['Name']} is {size} "
                        f"bytes: an image from S3 is at most {S3_IMAGE_MAX_BYTES} bytes."
                    )
                data = b"".join(objects.read_s3_object(self.settings, s3_object))
            except objects.ObjectUnreadable as unreadable:
                raise InvalidS3ObjectException(str(unreadable)) from None
            except OSError as error:
                raise InvalidS3ObjectException(
                    f"Unable to get object metadata from S3: {error}."
                ) from None
        return decode_image(bytes(data))


def decode_image(data: bytes) -> Image.Image:
    """A PNG or JPEG image within AWS's size limits, decoded, or AWS's error saying why not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            kind = picture.format
            width, height = picture.size
            if kind in ("JPEG", "PNG") and max(width, height) <= MAX_IMAGE_SIDE:
                picture.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLargeException(
            f"The image has too many pixels: each side is at most {MAX_IMAGE_SIDE} pixels."
        ) from None
    except Exception as error:  # Pillow's many errors for bytes that are not an image
        head = data[:8].hex()
        raise InvalidImageFormatException(
            f"Request has unsupported image format: the bytes (starting {head}) are not a "
            f"PNG or JPEG image ({error})."
        ) from None
    if kind not in ("JPEG", "PNG"):
        raise InvalidImageFormatException(
            f"Request has unsupported image format: the image is {kind}; send PNG or JPEG."
        )
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ImageTooLargeException(
            f"The image is {width}x{height} pixels: each side is at most {MAX_IMAGE_SIDE}."
        )
    return picture


def _sources(
    training_data: dict[str, Any] | None, testing_data: dict[str, Any] | None
) -> dict[str, Any]:
    """What a training reads besides the project's datasets: manifests, or the auto split."""
    testing = testing_data or {}
    auto_create = bool(testing.get("AutoCreate"))
    test_assets = testing.get("Assets") or []
    if auto_create and test_assets:
        raise InvalidParameterException(
            "TestingData has both Assets and AutoCreate: give testing manifests, or set "
            "AutoCreate to split the training images, not both."
        )
    if training_data is None:
        if test_assets:
            raise InvalidParameterException(
                "TestingData.Assets needs TrainingData: without TrainingData the project's "
                "datasets are used."
            )
        return {"auto_create": auto_create}
    assets = training_data.get("Assets") or []
    if not assets:
        raise InvalidParameterException(
            "TrainingData.Assets is empty: give at least one GroundTruthManifest."
        )
    if not test_assets and not auto_create:
        raise InvalidParameterException(
            "TestingData is missing: give testing manifests (Assets) or set AutoCreate."
        )
    for name, given in (("TrainingData", assets), ("TestingData", test_assets)):
        for index, asset in enumerate(given):
            s3_object = (asset.get("GroundTruthManifest") or {}).get("S3Object") or {}
            if not s3_object.get("Bucket") or not s3_object.get("Name"):
                raise InvalidParameterException(
                    f"{name}.Assets[{index}].GroundTruthManifest.S3Object needs Bucket and Name."
                )
    return {"training_assets": assets, "testing_assets": test_assets, "auto_create": auto_create}


def _described(version: ProjectVersionRecord) -> dict[str, Any]:
    """The ProjectVersionDescription shape (members None are left out by the serializer)."""
    described: dict[str, Any] = {
        "ProjectVersionArn": version.arn,
        "CreationTimestamp": version.created_at,
        "Status": version.status,
        "StatusMessage": version.status_message,
        "OutputConfig": {"S3Bucket": version.output_bucket, "S3KeyPrefix": version.output_prefix},
        "Feature": "CUSTOM_LABELS",
        "MinInferenceUnits": version.min_units,
        "MaxInferenceUnits": version.max_units,
        "TrainingEndTimestamp": version.training_end,
        "BillableTrainingTimeInSeconds": version.billable_seconds,
        "KmsKeyId": version.kms_key_id,
        "VersionDescription": version.description,
    }
    details = version.details
    if "summary" in details:
        described["EvaluationResult"] = {
            "F1Score": details["f1"],
            "Summary": {"S3Object": details["summary"]},
        }
        described["ManifestSummary"] = {"S3Object": details["manifest_summary"]}
        described["TrainingDataResult"] = details["training"]
        described["TestingDataResult"] = details["testing"]
    return described


def _name_taken(name: str, project_arn: str) -> ResourceInUseException:
    return ResourceInUseException(
        f"The project {project_arn} already has a version named {name}: choose another VersionName."
    )


def _not_now(version: ProjectVersionRecord, done: str, allowed: str) -> ResourceInUseException:
    return ResourceInUseException(
        f"The model {version.arn} is {version.status}: only a model that is {allowed} can be "
        f"{done}."
    )
