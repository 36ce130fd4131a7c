"""Image classification on the pretrained backbone: the backbone's pooled features of each
image, computed once, and a linear head trained on them (the backbone stays frozen: on a CPU a
training step of the whole network costs ~5x a frozen one, docs/models.md).

One label per image (softmax over the labels) or several (a sigmoid per label), as the
dataset's labels say. Confidences are percentages, as DetectCustomLabels gives them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image
from torch import Tensor, nn
from torch.nn import functional

from manifestdb.models.backbone import HEAD_CHANNELS, EfficientNetLite0, normalize, pretrained

IMAGE_SIZE = 224  # the size the backbone's ImageNet weights were trained at
BATCH = 32
EPOCHS = 300  # full-batch steps of the head: milliseconds each on cached features
LEARNING_RATE = 0.01
WEIGHT_DECAY = 1e-4


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str
    confidence: float  # 0-100


def image_tensor(image: Image.Image, size: int = IMAGE_SIZE) -> Tensor:
    """An image as the backbone takes it: RGB, resized to `size` x `size`, values in [0, 1]."""
    rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    data = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
    return data.view(size, size, 3).permute(2, 0, 1).float() / 255.0


def embed(
    backbone: EfficientNetLite0,
    images: Sequence[Image.Image],
    size: int = IMAGE_SIZE,
) -> Tensor:
    """The backbone's pooled features of each image, (n, 1280), `BATCH` images at a time."""
    backbone.eval()
    found = []
    with torch.inference_mode():
        for start in range(0, len(images), BATCH):
            batch = torch.stack([image_tensor(i, size) for i in images[start : start + BATCH]])
            found.append(backbone.pooled(normalize(batch)))
    return torch.cat(found) if found else torch.zeros(0, HEAD_CHANNELS)


@dataclass
class Classifier:
    """A trained head and its labels; `multi_label`: a sigmoid per label, not one softmax."""

    labels: list[str]
    head: nn.Linear
    multi_label: bool
    size: int = IMAGE_SIZE

    def scores(self, features: Tensor) -> Tensor:
        """Each label's probability for each image, (n, labels)."""
        with torch.inference_mode():
            logits = self.head(features)
            return torch.sigmoid(logits) if self.multi_label else functional.softmax(logits, 1)

    def predict(self, features: Tensor) -> list[list[Prediction]]:
        """Every label of each image with its confidence, most confident first."""
        found = []
        for row in self.scores(features).tolist():
            ranked = sorted(zip(self.labels, row, strict=True), key=lambda pair: -pair[1])
            found.append([Prediction(label, 100.0 * score) for label, score in ranked])
        return found

    def state(self) -> dict[str, Any]:
        """What `from_state` needs, for torch.save."""
        return {
            "labels": self.labels,
            "multi_label": self.multi_label,
            "size": self.size,
            "head": self.head.state_dict(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Classifier:
        labels = [str(label) for label in state["labels"]]
        head = nn.Linear(HEAD_CHANNELS, len(labels))
        head.load_state_dict(state["head"])
        return cls(labels, head, bool(state["multi_label"]), int(state["size"]))


def train_classifier(
    features: Tensor, targets: Sequence[Sequence[str]], *, epochs: int = EPOCHS, seed: int = 0
) -> Classifier:
    """A head trained on `features` (from `embed`) for the labels of each image in `targets`.
    Several labels on any image make it a multi-label classifier."""
    if len(targets) != features.shape[0]:
        raise ValueError(f"{features.shape[0]} images but {len(targets)} label sets")
    labels = sorted({label for found in targets for label in found})
    if len(labels) < 1 or (len(labels) < 2 and all(len(t) == 1 for t in targets)):
        raise ValueError(f"a classifier needs at least two labels, found {labels}")
    multi_label = any(len(found) != 1 for found in targets)
    index = {label: n for n, label in enumerate(labels)}
    torch.manual_seed(seed)
    head = nn.Linear(features.shape[1], len(labels))
    optimizer = torch.optim.AdamW(head.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    if multi_label:
        goal = torch.zeros(len(targets), len(labels))
        for row, found in enumerate(targets):
            for label in found:
                goal[row, index[label]] = 1.0
    else:
        classes = torch.tensor([index[found[0]] for found in targets])
    for _ in range(epochs):
        optimizer.zero_grad()
        logits = head(features)
        if multi_label:
            loss = functional.binary_cross_entropy_with_logits(logits, goal)
        else:
            loss = functional.cross_entropy(logits, classes)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return Classifier(labels, head, multi_label)


def load_backbone() -> EfficientNetLite0:
    """The pretrained backbone, frozen."""
    backbone = pretrained()
    for parameter in backbone.parameters():
        parameter.requires_grad_(False)
    return backbone
