"""Seeded, realistic Ground Truth lines for benchmarks.

Half image-level lines with 1-3 labels, half box lines with 1-10 boxes, a 50-label vocabulary
with a few rare labels, 1% lines with errors, 5% unlabeled.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import orjson

VOCABULARY = [f"label-{i:02d}" for i in range(47)] + ["rare-a", "rare-b", "rare-c"]
WEIGHTS = [1.0] * 47 + [0.01, 0.01, 0.01]
META = {
    "confidence": 1,
    "human-annotated": "yes",
    "creation-date": "2024-01-01T00:00:00",
    "job-name": "bench",
}


def line(rng: random.Random, index: int, bucket: str = "bench-bucket") -> bytes:
    ref = f"s3://{bucket}/images/{index // 1000:04d}/img{index:08d}.jpg"
    roll = rng.random()
    if roll < 0.05:
        return orjson.dumps({"source-ref": ref})
    if roll < 0.525:
        record: dict[str, object] = {"source-ref": ref}
        for n, label in enumerate(rng.choices(VOCABULARY, WEIGHTS, k=rng.randint(1, 3))):
            record[f"class{n}"] = 1
            record[f"class{n}-metadata"] = {
                "class-name": label,
                **META,
                "type": "groundtruth/image-classification",
            }
        return orjson.dumps(record)
    labels = rng.choices(VOCABULARY, WEIGHTS, k=rng.randint(1, 10))
    names = sorted(set(labels))
    annotations = []
    for label in labels:
        width, height = rng.randint(10, 200), rng.randint(10, 200)
        annotations.append(
            {
                "class_id": names.index(label),
                "top": rng.randint(0, 270),
                "left": rng.randint(0, 430),
                "width": width,
                "height": height,
            }
        )
    if rng.random() < 0.02:  # ~1% of all lines: a box off the frame
        annotations[0]["left"] = -10
    return orjson.dumps(
        {
            "source-ref": ref,
            "bounding-box": {
                "image_size": [{"width": 640, "height": 480, "depth": 3}],
                "annotations": annotations,
            },
            "bounding-box-metadata": {
                "objects": [{"confidence": 1}] * len(annotations),
                "class-map": {str(i): n for i, n in enumerate(names)},
                "type": "groundtruth/object-detection",
                **META,
            },
        }
    )


def lines(seed: int, start: int, count: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for index in range(start, start + count):
        yield line(rng, index)


def change(seed: int, start: int, max_bytes: int = 5 * 1024 * 1024) -> tuple[bytes, int]:
    """A change of at most `max_bytes` (the largest legal UpdateDatasetEntries), and its lines."""
    parts, size = [], 0
    for count, text in enumerate(lines(seed, start, 10**7)):
        if size + len(text) + 1 > max_bytes:
            return b"".join(parts), count
        parts.append(text + b"\n")
        size += len(text) + 1
    raise AssertionError("unreachable")
