"""Measures the manifest engine: lines/s of ChangeReader on a realistic, seeded ~5 MiB change.

Half the lines carry 1-3 image-level labels, half carry 1-10 bounding boxes (the mix of
PERFORMANCE-NOTES.md). Run: `.venv/bin/python bench/bench_validate.py [--mib 5] [--runs 7]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import orjson

from manifestdb.manifest import ChangeReader

LABELS = [f"label-{index:03d}" for index in range(60)]


def image_level_line(rng: random.Random, index: int) -> dict[str, object]:
    line: dict[str, object] = {"source-ref": f"s3://bench-bucket/images/{index:07d}.jpg"}
    for slot, label in enumerate(rng.sample(LABELS, rng.randint(1, 3))):
        line[f"label-{slot}"] = 1
        line[f"label-{slot}-metadata"] = {
            "class-name": label,
            "confidence": round(rng.random(), 2),
            "type": "groundtruth/image-classification",
            "human-annotated": "yes",
            "creation-date": "2021-07-11T03:32:13.456Z",
            "job-name": "labeling-job/bench",
        }
    return line


def box_line(rng: random.Random, index: int) -> dict[str, object]:
    width, height = rng.choice([(640, 480), (1024, 768), (1920, 1080), (700, 442)])
    used = rng.sample(LABELS, rng.randint(1, 4))
    boxes = []
    for _ in range(rng.randint(1, 10)):
        box_width, box_height = rng.randint(2, width // 2), rng.randint(2, height // 2)
        boxes.append(
            {
                "class_id": rng.randrange(len(used)),
                "top": rng.randint(0, height - box_height),
                "left": rng.randint(0, width - box_width),
                "width": box_width,
                "height": box_height,
            }
        )
    return {
        "source-ref": f"s3://bench-bucket/images/{index:07d}.jpg",
        "bounding-box": {
            "image_size": [{"width": width, "height": height, "depth": 3}],
            "annotations": boxes,
        },
        "bounding-box-metadata": {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": {str(class_id): label for class_id, label in enumerate(used)},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2021-06-09T05:26:56.180Z",
            "job-name": "labeling-job/bench",
        },
    }


def make_change(mib: float, seed: int = 3) -> bytes:
    """A seeded change of about `mib` MiB of JSON lines."""
    rng = random.Random(seed)
    lines: list[bytes] = []
    size = 0
    while size < mib * 1024 * 1024:
        index = len(lines)
        line = image_level_line(rng, index) if index % 2 == 0 else box_line(rng, index)
        lines.append(orjson.dumps(line))
        size += len(lines[-1]) + 1
    return b"\n".join(lines) + b"\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    change = make_change(args.mib)
    timings = []
    for _ in range(args.runs):
        reader = ChangeReader()
        start = time.perf_counter()
        for _entry in reader.read([change]):
            pass
        timings.append(time.perf_counter() - start)
        assert reader.terminal() is None and reader.entries_with_errors == 0
    best, median = min(timings), statistics.median(timings)
    lines = reader.lines_read
    print(f"{len(change) / 2**20:.2f} MiB, {lines} lines, {len(change) / lines:.0f} bytes/line")
    print(
        f"ChangeReader: median {median * 1000:.1f} ms = {lines / median:,.0f} lines/s"
        f" (best {lines / best:,.0f} lines/s)"
    )


if __name__ == "__main__":
    main()
