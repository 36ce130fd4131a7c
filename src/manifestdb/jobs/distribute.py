"""Choosing which training entries DistributeDatasetEntries moves to the test dataset.

Rules (api.md): move round(20%) of the training entries; every label with at least 2 training
entries keeps at least one on each side. How: a seeded shuffle, then (1) for each such label,
rarest first, one entry goes to test unless some label would lose its last training entry;
(2) labels are topped up towards 20% of their own entries, rarest first (stratification);
(3) any entries fill the set up to the total. Step 1 may take more than 20% when a dataset has
many rare labels: keeping every label on both sides wins over the exact share.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

TEST_SHARE = 0.2


def choose_test_entries(rows: Sequence[tuple[int, dict[str, int]]], seed: str) -> set[int]:
    """The seqs to move, from (seq, labels) of every training entry."""
    order = list(rows)
    random.Random(seed).shuffle(order)
    total = Counter(label for _, labels in order for label in labels)
    target = round(len(order) * TEST_SHARE)
    in_test: Counter[str] = Counter()
    chosen: set[int] = set()

    def movable(labels: dict[str, int]) -> bool:
        # Moving must leave each label of the entry with a training entry (if it had 2+).
        return all(total[label] - in_test[label] > 1 for label in labels)

    def take(seq: int, labels: dict[str, int]) -> None:
        chosen.add(seq)
        in_test.update(labels.keys())

    rarest_first = sorted(
        (label for label, n in total.items() if n >= 2), key=lambda x: (total[x], x)
    )
    for label in rarest_first:
        if in_test[label]:
            continue
        for seq, labels in order:
            if seq not in chosen and label in labels and movable(labels):
                take(seq, labels)
                break
    for label in rarest_first:
        quota = round(total[label] * TEST_SHARE)
        for seq, labels in order:
            if in_test[label] >= quota or len(chosen) >= target:
                break
            if seq not in chosen and label in labels and movable(labels):
                take(seq, labels)
    for seq, labels in order:
        if len(chosen) >= target:
            break
        if seq not in chosen and movable(labels):
            take(seq, labels)
    return chosen


def labeled_count(rows: Sequence[tuple[int, dict[str, int]]]) -> int:
    return sum(1 for _, labels in rows if labels)
