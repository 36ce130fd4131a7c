"""Training, evaluation and prediction of a whole model, as the jobs and the service use them.

`train` picks the kind of model from the training images' labels as AWS does (boxes: object
detection, `detect`; otherwise image classification, `classify`, with several labels on an
image making it multi-label), trains it on the TRAIN examples, evaluates it on the TEST examples
(AWS's metrics and assumed thresholds, `evaluate`) and returns a `Model` that `to_bytes` keeps
and `from_bytes` serves. Images come as loaders, read a batch at a time: memory holds one batch
of pixels and the features, not the dataset.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from manifestdb.models.backbone import HEAD_CHANNELS, EfficientNetLite0, normalize
from manifestdb.models.classify import (
    BATCH,
    IMAGE_SIZE,
    Classifier,
    image_tensor,
    load_backbone,
    train_classifier,
)
from manifestdb.models.detect import IMAGE_SIZE as DETECT_SIZE
from manifestdb.models.detect import Box, Detector, epochs_for, grid_features, train_detector
from manifestdb.models.evaluate import Evaluation, evaluate_classification, evaluate_detection

CLASSIFICATION = "classification"
MULTI_LABEL = "multi_label"
DETECTION = "detection"
FORMAT = 1  # of `Model.to_bytes`

Progress = Callable[[str], None]


class TrainingRefused(Exception):
    """The data cannot train a model (no labeled image, a single label, ...): the message says
    what to change."""


@dataclass(frozen=True, slots=True)
class Example:
    """One image to learn from or test on: how to read it, its image-level labels, and its
    boxes as (label, left, top, width, height) ratios of the image's sides."""

    name: str  # for messages: its source-ref
    load: Callable[[], Image.Image]
    labels: tuple[str, ...] = ()
    boxes: tuple[tuple[str, float, float, float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Detected:
    label: str
    confidence: float  # 0..100
    box: tuple[float, float, float, float] | None = None  # (left, top, width, height) ratios


@dataclass
class Trained:
    """What `train` made: the model, its evaluation, and the images it could not read."""

    model: Model
    evaluation: Evaluation
    training_images: int
    testing_images: int
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (name, why)


def kind_of(examples: Sequence[Example]) -> str:
    """The kind of model the training examples call for."""
    if any(example.boxes for example in examples):
        return DETECTION
    if any(len(example.labels) > 1 for example in examples):
        return MULTI_LABEL
    return CLASSIFICATION


def device() -> torch.device:
    """The GPU when torch sees one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


_backbone_lock = threading.Lock()


@functools.cache
def _backbone(where: str) -> EfficientNetLite0:
    return load_backbone().to(where)


def shared_backbone() -> EfficientNetLite0:
    """The frozen pretrained backbone, loaded once per process and device."""
    with _backbone_lock:
        return _backbone(str(device()))


def _pooled(backbone: EfficientNetLite0, images: Tensor) -> Tensor:
    return backbone.pooled(normalize(images))


def embed_examples(
    examples: Sequence[Example],
    progress: Progress,
    what: str,
    *,
    size: int = IMAGE_SIZE,
    encode: Callable[[EfficientNetLite0, Tensor], Tensor] = _pooled,
) -> tuple[Tensor, list[int], list[tuple[str, str]]]:
    """Backbone features of each readable example (`encode`: pooled, (n, 1280), by default),
    the indices of those examples, and (name, why) of each that could not be read as an
    image."""
    backbone = shared_backbone()
    where = device()
    found: list[Tensor] = []
    kept: list[int] = []
    unreadable: list[tuple[str, str]] = []
    for start in range(0, len(examples), BATCH):
        progress(
            f"{what}: image {start + 1} to {min(start + BATCH, len(examples))} of {len(examples)}"
        )
        batch = []
        for index in range(start, min(start + BATCH, len(examples))):
            try:
                batch.append(image_tensor(examples[index].load(), size))
            except Exception as error:  # a missing object, not an image, a truncated file
                unreadable.append((examples[index].name, str(error) or type(error).__name__))
                continue
            kept.append(index)
        if batch:
            with torch.inference_mode():
                found.append(encode(backbone, torch.stack(batch).to(where)).cpu())
    features = torch.cat(found) if found else torch.zeros(0, HEAD_CHANNELS)
    return features, kept, unreadable


def train(training: Sequence[Example], testing: Sequence[Example], progress: Progress) -> Trained:
    """Train a model on `training`, evaluate it on `testing`. Raises TrainingRefused."""
    labeled = [example for example in training if example.labels or example.boxes]
    if not labeled:
        raise TrainingRefused(
            f"The training dataset has no labeled image ({len(training)} entries): label "
            "images with image-level labels or bounding boxes, then train again."
        )
    if not testing:
        raise TrainingRefused(
            "The testing dataset has no image: add entries to the TEST dataset, or create "
            "the version with TestingData.AutoCreate set to split the training dataset."
        )
    kind = kind_of(labeled)
    if kind == DETECTION:
        return _train_detector(
            [example for example in training if example.boxes], testing, progress
        )
    return _train_classifier(labeled, testing, kind, progress)


def _readable(
    examples: Sequence[Example], progress: Progress, what: str, size: int, encode: Any
) -> tuple[Tensor, list[int], list[tuple[str, str]]]:
    features, kept, unreadable = embed_examples(
        examples, progress, f"Reading {what} images", size=size, encode=encode
    )
    if not kept:
        raise TrainingRefused(
            f"No {what} image could be read ({len(examples)} tried; first: "
            f"{unreadable[0][0]}: {unreadable[0][1]})."
        )
    return features, kept, unreadable


def _boxes(example: Example) -> list[tuple[str, Box]]:
    return [
        (label, (left, top, width, height)) for label, left, top, width, height in example.boxes
    ]


def _train_detector(
    training: Sequence[Example], testing: Sequence[Example], progress: Progress
) -> Trained:
    features, kept, unreadable = _readable(
        training, progress, "training", DETECT_SIZE, grid_features
    )
    epochs = epochs_for(len(kept))

    def step(epoch: int) -> None:
        progress(f"Training the detector on {len(kept)} images: epoch {epoch + 1} of {epochs}")

    detector = train_detector(
        features,
        [_boxes(training[i]) for i in kept],
        epochs=epochs,
        step=step,
    )
    test_features, test_kept, test_unreadable = _readable(
        testing, progress, "testing", DETECT_SIZE, grid_features
    )
    progress(f"Evaluating on {len(test_kept)} testing images")
    found = detector.find(test_features)
    evaluation = evaluate_detection(
        detector.labels,
        [_boxes(testing[i]) for i in test_kept],
        [[(f.label, f.score, f.box) for f in image] for image in found],
    )
    thresholds = {m.label: m.threshold for m in evaluation.labels}
    model = Model(DETECTION, None, thresholds, detector)
    return Trained(model, evaluation, len(kept), len(test_kept), unreadable + test_unreadable)


def _train_classifier(
    training: Sequence[Example], testing: Sequence[Example], kind: str, progress: Progress
) -> Trained:
    labels = sorted({label for example in training for label in example.labels})
    if kind == CLASSIFICATION and len(labels) < 2:
        raise TrainingRefused(
            f"The training dataset has one label only ({labels[0]!r}): an image classifier "
            "needs at least two labels. Add images of another label."
        )
    features, kept, unreadable = _readable(training, progress, "training", IMAGE_SIZE, _pooled)
    progress(f"Training the classifier on {len(kept)} images")
    classifier = train_classifier(features, [training[i].labels for i in kept])
    test_features, test_kept, test_unreadable = _readable(
        testing, progress, "testing", IMAGE_SIZE, _pooled
    )
    progress(f"Evaluating on {len(test_kept)} testing images")
    scores = classifier.scores(test_features).tolist()
    evaluation = evaluate_classification(
        classifier.labels,
        [set(testing[i].labels) for i in test_kept],
        scores,
        multi_label=classifier.multi_label,
    )
    thresholds = {m.label: m.threshold for m in evaluation.labels}
    model = Model(kind, classifier, thresholds)
    return Trained(model, evaluation, len(kept), len(test_kept), unreadable + test_unreadable)


@dataclass
class Model:
    """A trained model as it is kept and served."""

    kind: str
    classifier: Classifier | None  # a classification model's
    thresholds: dict[str, float]  # each label's assumed threshold, 0..1
    detector: Detector | None = None  # a detection model's

    @property
    def labels(self) -> list[str]:
        if self.detector is not None:
            return self.detector.labels
        assert self.classifier is not None
        return self.classifier.labels

    def detect(self, image: Image.Image) -> list[Detected]:
        """What the model sees in the image, most confident first: every label with its
        confidence (classification), or the boxes found (detection)."""
        if self.detector is not None:
            tensor = image_tensor(image, self.detector.size).unsqueeze(0).to(device())
            with torch.inference_mode():
                grid = grid_features(shared_backbone(), tensor).cpu()
            return [
                Detected(found.label, 100.0 * found.score, found.box)
                for found in self.detector.find(grid)[0]
            ]
        assert self.classifier is not None
        tensor = image_tensor(image, self.classifier.size).unsqueeze(0).to(device())
        with torch.inference_mode():
            features = shared_backbone().pooled(normalize(tensor)).cpu()
        return [
            Detected(found.label, found.confidence)
            for found in self.classifier.predict(features)[0]
        ]

    def to_bytes(self) -> bytes:
        state: dict[str, Any] = {
            "format": FORMAT,
            "kind": self.kind,
            "thresholds": self.thresholds,
            "classifier": None if self.classifier is None else self.classifier.state(),
            "detector": None if self.detector is None else self.detector.state(),
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        if state.get("format") != FORMAT:
            raise ValueError(f"model format {state.get('format')!r}, this version reads {FORMAT}")
        classifier = state.get("classifier")
        detector = state.get("detector")
        thresholds = {str(k): float(v) for k, v in state["thresholds"].items()}
        return cls(
            str(state["kind"]),
            None if classifier is None else Classifier.from_state(classifier),
            thresholds,
            None if detector is None else Detector.from_state(detector),
        )
