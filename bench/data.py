"""Seeded, realistic Ground Truth lines, manifests and 5 MiB changes for the benchmarks.

The mix: 5% unlabeled lines (a bare `source-ref`), the rest half image-level lines
with 1-3 labels and half bounding-box lines with 1-10 boxes; a 50-label vocabulary whose last
three labels are rare (~80 entries per 100,000); ~1% of all lines carry an error (a box off the
frame, which the service stores with an `errors` array). About 610 bytes a line.

Line `i` of a manifest has the source-ref `s3://bench-bucket/images/{i // 1000:04d}/img{i:08d}.jpg`
and, for a given seed, the same content whatever the manifest's length: the first K lines of the
N-line manifest ARE the K-line manifest, so smaller manifests are cut from a cached larger one.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

BUCKET = "bench-bucket"
MANIFEST_SEED = 1
MAX_CHANGE_BYTES = 5 * 1024 * 1024
VOCABULARY = [f"label-{i:02d}" for i in range(47)] + ["rare-a", "rare-b", "rare-c"]
RARE_LABELS = VOCABULARY[47:]
WEIGHTS = [1.0] * 47 + [0.01, 0.01, 0.01]
META = {
    "confidence": 1,
    "human-annotated": "yes",
    "creation-date": "2024-01-01T00:00:00",
    "job-name": "bench",
}
# New lines of changes get indexes from here on, far from any manifest's 0..N-1.
NEW_INDEX_BASE = 20_000_000


def source_ref(index: int, bucket: str = BUCKET) -> str:
    return f"s3://{bucket}/images/{index // 1000:04d}/img{index:08d}.jpg"


def line(rng: random.Random, index: int, bucket: str = BUCKET) -> bytes:
    """One JSON line (no newline) for image `index`."""
    ref = source_ref(index, bucket)
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


def manifest(cache: Path, count: int, seed: int = MANIFEST_SEED) -> Path:
    """A cached `count`-line manifest (lines 0..count-1), generated or cut from a larger one."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"manifest-s{seed}-{count}.jsonl"
    if path.exists():
        return path
    larger = sorted(
        (int(p.stem.rsplit("-", 1)[1]), p)
        for p in cache.glob(f"manifest-s{seed}-*.jsonl")
        if p.stem.rsplit("-", 1)[1].isdigit() and int(p.stem.rsplit("-", 1)[1]) > count
    )
    if not larger:
        return write_manifest(path, lines(seed, 0, count))
    partial = path.with_suffix(f".part{os.getpid()}")
    try:
        with partial.open("wb") as out, larger[0][1].open("rb") as source:
            for _, text in zip(range(count), source, strict=False):
                out.write(text)
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_manifest(path: Path, texts: Iterator[bytes]) -> Path:
    """Write JSON lines (each without its newline) to `path`, in batches, through a partial
    file renamed at the end (a killed run leaves no half manifest behind)."""
    partial = path.with_suffix(f".part{os.getpid()}")
    try:
        with partial.open("wb") as out:
            batch: list[bytes] = []
            for text in texts:
                batch.append(text)
                if len(batch) == 10_000:
                    out.write(b"\n".join(batch) + b"\n")
                    batch.clear()
            if batch:
                out.write(b"\n".join(batch) + b"\n")
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


@dataclass(frozen=True, slots=True)
class Change:
    """A change payload and what it does to a dataset of `existing` entries 0..existing-1."""

    payload: bytes
    lines: int
    new: int  # lines whose source-ref the dataset does not hold
    replacing: int  # lines replacing an entry 0..existing-1
    existing: int


def change(seed: int, existing: int, new_start: int, max_bytes: int = MAX_CHANGE_BYTES) -> Change:
    """The largest change that fits `max_bytes`: alternately a new line (index `new_start`,
    `new_start + 1`, ...) and a line replacing a random, distinct entry of 0..existing-1 (so the
    writes land all over the dataset's key space, as real corrections do). With `existing == 0`
    every line is new."""
    rng = random.Random(seed)
    content = random.Random(seed + 1)
    parts: list[bytes] = []
    taken: set[int] = set()
    size = new = replacing = 0
    while True:
        if existing and len(parts) % 2 == 1 and len(taken) < existing:
            index = rng.randrange(existing)
            while index in taken:
                index = rng.randrange(existing)
            taken.add(index)
        else:
            index = new_start + new
        text = line(content, index)
        if size + len(text) + 1 > max_bytes:
            return Change(b"".join(parts), len(parts), new, replacing, existing)
        parts.append(text + b"\n")
        size += len(text) + 1
        if index < existing:
            replacing += 1
        else:
            new += 1
