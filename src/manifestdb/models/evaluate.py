"""AWS's evaluation metrics from a model's scores on the TEST images: per label precision, recall,
F1 and the assumed threshold; aggregated, their means over the labels; for a classifier, the
confusion matrix; for a detector (boxes matched at IoU 0.5), mean average precision and recall.
Plain Python (no torch): numbers in, numbers out.

The assumed threshold of a label is the score at which its F1 on the test images is highest
(ties: the higher score, fewer false positives): DetectCustomLabels without MinConfidence returns
a label when its confidence reaches it, as AWS describes. A label with no test image gets 0.5
and zero metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class LabelMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    threshold: float  # 0..1, of the model's score
    testing_images: int  # test images the label is on


@dataclass(frozen=True, slots=True)
class Evaluation:
    labels: list[LabelMetrics]  # sorted by F1, best first (as AWS sorts them)
    precision: float
    recall: float
    f1: float
    confusion: list[tuple[str, str, float]]  # (ground truth, predicted, share), classification
    average_precision: float | None = None  # detection: mAP at IoU 0.5
    average_recall: float | None = None  # detection: recall at IoU 0.5, all scores

    def threshold(self, label: str) -> float:
        for found in self.labels:
            if found.label == label:
                return found.threshold
        return DEFAULT_THRESHOLD


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def best_threshold(
    scored: Sequence[tuple[float, bool]], positives: int
) -> tuple[float, float, float, float]:
    """(threshold, precision, recall, F1) at the score that maximizes F1, for predictions
    (score, is a true positive) out of `positives` things to find."""
    if positives == 0:
        return DEFAULT_THRESHOLD, 0.0, 0.0, 0.0
    best = (DEFAULT_THRESHOLD, 0.0, 0.0, 0.0)
    found = kept = 0
    ranked = sorted(scored, key=lambda pair: -pair[0])
    for index, (score, hit) in enumerate(ranked):
        kept += 1
        found += hit
        if index + 1 < len(ranked) and ranked[index + 1][0] == score:
            continue  # a threshold keeps every prediction of the same score
        precision, recall = found / kept, found / positives
        f1 = _f1(precision, recall)
        if f1 > best[3]:
            best = (score, precision, recall, f1)
    return best


def _summary(metrics: list[LabelMetrics]) -> tuple[float, float, float]:
    present = [m for m in metrics if m.testing_images] or metrics
    count = max(1, len(present))
    return (
        sum(m.precision for m in present) / count,
        sum(m.recall for m in present) / count,
        sum(m.f1 for m in present) / count,
    )


def evaluate_classification(
    labels: Sequence[str],
    truths: Sequence[set[str]],
    scores: Sequence[Sequence[float]],
    *,
    multi_label: bool,
) -> Evaluation:
    """Metrics of a classifier: `scores[i][j]` is image i's score (0..1) for `labels[j]`."""
    metrics = []
    for column, label in enumerate(labels):
        scored = [(row[column], label in truth) for row, truth in zip(scores, truths, strict=True)]
        positives = sum(hit for _, hit in scored)
        threshold, precision, recall, f1 = best_threshold(scored, positives)
        metrics.append(LabelMetrics(label, precision, recall, f1, threshold, positives))
    metrics.sort(key=lambda m: (-m.f1, m.label))
    precision, recall, f1 = _summary(metrics)
    confusion = [] if multi_label else _confusion(labels, truths, scores)
    return Evaluation(metrics, precision, recall, f1, confusion)


def _confusion(
    labels: Sequence[str], truths: Sequence[set[str]], scores: Sequence[Sequence[float]]
) -> list[tuple[str, str, float]]:
    """For each ground-truth label, the share of its images predicted as each label (the top
    score), as AWS's summary file gives it."""
    counts = {(truth, predicted): 0 for truth in labels for predicted in labels}
    totals = dict.fromkeys(labels, 0)
    for truth, row in zip(truths, scores, strict=True):
        predicted = labels[max(range(len(labels)), key=lambda j: row[j])]
        for label in truth:
            if label in totals:
                totals[label] += 1
                counts[(label, predicted)] += 1
    return [
        (truth, predicted, counts[(truth, predicted)] / totals[truth])
        for truth in labels
        for predicted in labels
        if totals[truth]
    ]


Box = tuple[float, float, float, float]  # left, top, width, height (ratios)
IOU_MATCH = 0.5  # a detection is right when it overlaps an unmatched true box this much


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (left, top, width, height) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def average_precision(scored: Sequence[tuple[float, bool]], positives: int) -> float:
    """The area under the precision-recall curve (every point, precision made monotone)."""
    if positives == 0:
        return 0.0
    ranked = sorted(scored, key=lambda pair: -pair[0])
    points = []
    found = 0
    for kept, (_, hit) in enumerate(ranked, 1):
        found += hit
        points.append((found / positives, found / kept))
    area, best, previous = 0.0, 0.0, 0.0
    # precision at each recall level: the best precision at that recall or beyond
    envelope = []
    for recall, precision in reversed(points):
        best = max(best, precision)
        envelope.append((recall, best))
    for recall, precision in reversed(envelope):
        area += (recall - previous) * precision
        previous = recall
    return area


def evaluate_detection(
    labels: Sequence[str],
    truths: Sequence[Sequence[tuple[str, Box]]],
    found: Sequence[Sequence[tuple[str, float, Box]]],
) -> Evaluation:
    """Metrics of a detector: each image's true (label, box) and found (label, score, box). A
    found box is right when it overlaps, by IOU_MATCH or more, a true box of its label that no
    more confident box of the image has matched."""
    metrics = []
    precisions, recalls = [], []
    for label in labels:
        scored: list[tuple[float, bool]] = []
        positives = images = 0
        for truth, detections in zip(truths, found, strict=True):
            boxes = [box for name, box in truth if name == label]
            positives += len(boxes)
            images += bool(boxes)
            matched = [False] * len(boxes)
            mine = sorted((d for d in detections if d[0] == label), key=lambda d: -d[1])
            for _, score, box in mine:
                best, at = 0.0, -1
                for n, true_box in enumerate(boxes):
                    overlap = iou(box, true_box)
                    if not matched[n] and overlap > best:
                        best, at = overlap, n
                hit = best >= IOU_MATCH
                if hit:
                    matched[at] = True
                scored.append((score, hit))
        threshold, precision, recall, f1 = best_threshold(scored, positives)
        metrics.append(LabelMetrics(label, precision, recall, f1, threshold, images))
        if positives:
            precisions.append(average_precision(scored, positives))
            recalls.append(sum(hit for _, hit in scored) / positives)
    metrics.sort(key=lambda m: (-m.f1, m.label))
    precision, recall, f1 = _summary(metrics)
    count = max(1, len(precisions))
    return Evaluation(
        metrics,
        precision,
        recall,
        f1,
        [],
        average_precision=sum(precisions) / count,
        average_recall=sum(recalls) / count,
    )
