"""AWS's evaluation metrics from a model's scores on the TEST images: per label precision, recall,
F1 and the assumed threshold; aggregated, their means over the labels; for a classifier, the
confusion matrix. Plain Python (no torch): numbers in, numbers out.

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
