"""Object detection on the frozen pretrained backbone: trained on generated images of one to
three shapes with their boxes, judged on other generated images at IoU 0.5."""

from __future__ import annotations

import random

import pytest
import torch
from shapes import SHAPES, Drawn, draw

from manifestdb.models.backbone import EfficientNetLite0
from manifestdb.models.classify import image_tensor, load_backbone
from manifestdb.models.detect import IMAGE_SIZE, Detector, grid_features, train_detector
from manifestdb.models.evaluate import average_precision, evaluate_detection, iou

SIDE = 128


def scenes(seed: int, count: int) -> list[Drawn]:
    rng = random.Random(seed)
    return [draw(rng, rng.sample(SHAPES, rng.randint(1, 3)), size=SIDE) for _ in range(count)]


def ratio_boxes(drawn: Drawn) -> list[tuple[str, tuple[float, float, float, float]]]:
    return [
        (shape, (x0 / SIDE, y0 / SIDE, (x1 - x0) / SIDE, (y1 - y0) / SIDE))
        for shape, (x0, y0, x1, y1) in drawn.shapes
    ]


def features(backbone: EfficientNetLite0, drawn: list[Drawn]) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat(
            [
                grid_features(
                    backbone,
                    torch.stack([image_tensor(d.image, IMAGE_SIZE) for d in drawn[i : i + 16]]),
                )
                for i in range(0, len(drawn), 16)
            ]
        )


@pytest.fixture(scope="module")
def trained() -> tuple[Detector, EfficientNetLite0]:
    backbone = load_backbone()
    train = scenes(1, 60)
    detector = train_detector(features(backbone, train), [ratio_boxes(d) for d in train], epochs=30)
    return detector, backbone


def test_boxes_of_held_out_shapes_are_found_at_iou_half(
    trained: tuple[Detector, EfficientNetLite0],
) -> None:
    detector, backbone = trained
    test = scenes(2, 40)
    found = detector.find(features(backbone, test))
    evaluation = evaluate_detection(
        detector.labels,
        [ratio_boxes(d) for d in test],
        [[(f.label, f.score, f.box) for f in image] for image in found],
    )
    assert detector.labels == sorted(SHAPES)
    assert evaluation.f1 >= 0.8, evaluation
    assert evaluation.average_precision is not None and evaluation.average_precision >= 0.8
    for image in found:
        assert [f.score for f in image] == sorted((f.score for f in image), reverse=True)
        for f in image:
            left, top, width, height = f.box
            assert 0 <= left <= 1 and 0 <= top <= 1 and width > 0 and height > 0
            assert left + width <= 1 + 1e-6 and top + height <= 1 + 1e-6


def test_a_detector_survives_its_state(trained: tuple[Detector, EfficientNetLite0]) -> None:
    detector, backbone = trained
    test = scenes(3, 4)
    grid = features(backbone, test)
    again = Detector.from_state(detector.state())
    assert again.find(grid) == detector.find(grid)


def test_iou_and_average_precision_by_hand() -> None:
    assert iou((0, 0, 0.5, 0.5), (0, 0, 0.5, 0.5)) == pytest.approx(1.0)
    assert iou((0, 0, 0.5, 0.5), (0.25, 0, 0.5, 0.5)) == pytest.approx(1 / 3)
    assert iou((0, 0, 0.1, 0.1), (0.5, 0.5, 0.1, 0.1)) == 0.0
    # hits at ranks 1 and 3 of 2 positives: precision 1 up to recall .5, 2/3 up to recall 1
    assert average_precision([(0.9, True), (0.8, False), (0.7, True)], 2) == pytest.approx(
        0.5 * 1 + 0.5 * (2 / 3)
    )
    assert average_precision([], 3) == 0.0
