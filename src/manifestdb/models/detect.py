"""Object detection on the pretrained backbone: a CenterNet-style head on the frozen backbone's
stride-16 map (with the stride-32 map upsampled onto it), trained on features computed once.

Each cell of the grid predicts, for each label, how likely an object's centre falls in it (a
heatmap, trained with the penalty-reduced focal loss), and for the object centred there its
offset within the cell and its width and height as shares of the image. Decoding keeps the cells
that are the highest of their 3x3 neighbourhood (max-pool suppression: no separate NMS step),
most confident first. Boxes are (left, top, width, height) ratios of the image's sides, as
DetectCustomLabels gives them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional

from manifestdb.models.backbone import EfficientNetLite0, normalize

IMAGE_SIZE = 320  # a 20 x 20 grid at stride 16
STRIDE = 16
FINE, COARSE = 4, 6  # the backbone's stage maps used: stride 16 (112 channels), 32 (320)
CHANNELS = 112 + 320
HIDDEN = 64
EPOCHS = 60
PASSES = 2400  # images seen in a training (epochs x images), within [MIN_EPOCHS, EPOCHS] epochs
MIN_EPOCHS = 15
BATCH = 16
LEARNING_RATE = 2e-3
MAX_DETECTIONS = 50
MIN_SCORE = 0.01  # a peak below this is not a detection at all

Box = tuple[float, float, float, float]  # left, top, width, height (ratios)


def grid_features(backbone: EfficientNetLite0, images: Tensor) -> Tensor:
    """The head's input for a batch of images in [0, 1]: (n, CHANNELS, H/16, W/16)."""
    maps = backbone.features(normalize(images))
    fine, coarse = maps[FINE], maps[COARSE]
    coarse = functional.interpolate(coarse, size=fine.shape[-2:], mode="nearest")
    return torch.cat([fine, coarse], dim=1)


class DetectorHead(nn.Module):
    def __init__(self, labels: int) -> None:
        super().__init__()
        # A 1x1 reduction first: a 3x3 convolution over all 432 channels cost ~8x the time of
        # training, for no better boxes on the shapes.
        self.trunk = nn.Sequential(
            nn.Conv2d(CHANNELS, HIDDEN, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(HIDDEN, HIDDEN, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(HIDDEN, HIDDEN, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.heat = nn.Conv2d(HIDDEN, labels, 1)
        self.shape = nn.Conv2d(HIDDEN, 4, 1)  # offset x, offset y (cells), width, height (log)
        # Start with a low heat everywhere (CenterNet's prior): training begins near the answer
        # for the many empty cells.
        assert self.heat.bias is not None
        nn.init.constant_(self.heat.bias, -2.19)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        hidden: Tensor = self.trunk(features)
        heat: Tensor = self.heat(hidden)
        shape: Tensor = self.shape(hidden)
        return heat, shape


@dataclass(frozen=True, slots=True)
class Found:
    label: str
    score: float  # 0..1
    box: Box


def epochs_for(images: int) -> int:
    """Epochs of a training on this many images: about PASSES images seen, so a CPU training
    takes about the same time whatever the dataset's size (docs/models.md)."""
    return max(MIN_EPOCHS, min(EPOCHS, round(PASSES / max(1, images))))


def _radius(width: float, height: float) -> float:
    """The Gaussian's spread for an object of this size in cells (smaller objects: tighter)."""
    return max(0.5, 0.25 * math.sqrt(width * height))


def targets(
    boxes: Sequence[Sequence[tuple[int, Box]]], labels: int, grid: tuple[int, int]
) -> tuple[Tensor, Tensor, Tensor]:
    """Training targets of each image: the heatmap (n, labels, H, W), the shape of each centre
    cell (n, 4, H, W) and the mask of centre cells (n, H, W)."""
    rows, columns = grid
    heat = torch.zeros(len(boxes), labels, rows, columns)
    shape = torch.zeros(len(boxes), 4, rows, columns)
    mask = torch.zeros(len(boxes), rows, columns)
    ys = torch.arange(rows).view(-1, 1).float()
    xs = torch.arange(columns).view(1, -1).float()
    for n, image_boxes in enumerate(boxes):
        for label, (left, top, width, height) in image_boxes:
            cx, cy = (left + width / 2) * columns, (top + height / 2) * rows
            x, y = min(int(cx), columns - 1), min(int(cy), rows - 1)
            sigma = _radius(width * columns, height * rows)
            bump = torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
            heat[n, label] = torch.maximum(heat[n, label], bump)
            shape[n, :, y, x] = torch.tensor(
                [cx - x, cy - y, math.log(max(width, 1e-3)), math.log(max(height, 1e-3))]
            )
            mask[n, y, x] = 1.0
    return heat, shape, mask


def _focal(logits: Tensor, goal: Tensor) -> Tensor:
    """CenterNet's penalty-reduced focal loss, per object."""
    predicted = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    centres = goal.eq(1).float()
    positive = -torch.log(predicted) * (1 - predicted) ** 2 * centres
    negative = -torch.log(1 - predicted) * predicted**2 * (1 - goal) ** 4 * (1 - centres)
    return (positive.sum() + negative.sum()) / centres.sum().clamp(min=1.0)


@dataclass
class Detector:
    labels: list[str]
    head: DetectorHead
    size: int = IMAGE_SIZE

    def find(self, features: Tensor) -> list[list[Found]]:
        """The detections of each image's features, most confident first."""
        with torch.inference_mode():
            heat, shape = self.head(features)
            heat = torch.sigmoid(heat)
            peaks = heat == functional.max_pool2d(heat, 3, stride=1, padding=1)
            heat = heat * peaks
            n, _, rows, columns = heat.shape
            found = []
            for image in range(n):
                scores, places = heat[image].flatten().topk(min(MAX_DETECTIONS, heat[0].numel()))
                kept = []
                for score, place in zip(scores.tolist(), places.tolist(), strict=True):
                    if score < MIN_SCORE:
                        break
                    label, cell = divmod(place, rows * columns)
                    y, x = divmod(cell, columns)
                    dx, dy, log_w, log_h = shape[image, :, y, x].tolist()
                    width = min(1.0, math.exp(log_w))
                    height = min(1.0, math.exp(log_h))
                    cx, cy = (x + dx) / columns, (y + dy) / rows
                    left = min(max(cx - width / 2, 0.0), 1.0)
                    top = min(max(cy - height / 2, 0.0), 1.0)
                    box = (left, top, min(width, 1.0 - left), min(height, 1.0 - top))
                    kept.append(Found(self.labels[label], score, box))
                found.append(kept)
            return found

    def state(self) -> dict[str, Any]:
        return {"labels": self.labels, "size": self.size, "head": self.head.state_dict()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Detector:
        labels = [str(label) for label in state["labels"]]
        head = DetectorHead(len(labels))
        head.load_state_dict(state["head"])
        return cls(labels, head.eval(), int(state["size"]))


def train_detector(
    features: Tensor,
    boxes: Sequence[Sequence[tuple[str, Box]]],
    *,
    epochs: int = EPOCHS,
    seed: int = 0,
    step: Any = None,
) -> Detector:
    """A head trained on grid `features` (from `grid_features`) for each image's boxes.
    `step(epoch)` is called after each epoch (progress, and the time limit)."""
    labels = sorted({label for image in boxes for label, _ in image})
    index = {label: n for n, label in enumerate(labels)}
    numbered = [[(index[label], box) for label, box in image] for image in boxes]
    grid = (int(features.shape[-2]), int(features.shape[-1]))
    heat_goal, shape_goal, mask = targets(numbered, len(labels), grid)
    torch.manual_seed(seed)
    head = DetectorHead(len(labels))
    optimizer = torch.optim.AdamW(head.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    count = features.shape[0]
    generator = torch.Generator().manual_seed(seed)
    head.train()
    for epoch in range(epochs):
        order = torch.randperm(count, generator=generator)
        for start in range(0, count, BATCH):
            chosen = order[start : start + BATCH]
            heat, shape = head(features[chosen])
            centres = mask[chosen].unsqueeze(1)
            shape_loss = (
                functional.l1_loss(shape, shape_goal[chosen], reduction="none") * centres
            ).sum() / centres.sum().clamp(min=1.0)
            loss = _focal(heat, heat_goal[chosen]) + shape_loss
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        schedule.step()
        if step is not None:
            step(epoch)
    return Detector(labels, head.eval())
