"""Models on this machine, through the API of a real `manifestdb serve` (docs/models.md).

    python bench/bench_models.py [--quick] [--no-docs]

Measured, each through boto3 against a fresh server with `--local-buckets`:
1. classification: a 200-image project (one generated shape per 640x480 JPEG; 50 more test it),
   from CreateProjectVersion to TRAINING_COMPLETED: the time, training images/s, the F1 score;
   then DetectCustomLabels on 640x480 JPEGs (p50, p99 over 50 calls, 5 untimed first);
2. detection: the same with 200 scenes of one to three shapes and their boxes: time, F1 at IoU
   0.5, the summary's mAP, DetectCustomLabels p50/p99;
3. a real public labelled image set, if scikit-learn is installed (the `models-bench` extra):
   its handwritten digits (UCI, 1,797 8x8 images in the wheel), 10 labels, 1,000 to train on
   and 500 to test, scaled to 64x64 PNGs: time and F1.
--quick: 60 training images, 20 calls. Results: a table printed, JSON under bench/results/,
and (unless --no-docs) the table between the markers of docs/models.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from PIL import Image

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests" / "models"))
sys.path.insert(0, str(ROOT / "tests"))

from shapes import SHAPES, draw  # noqa: E402

from manifestdb.harness import ServerProcess  # noqa: E402
from support.lines import box_line, image_line  # noqa: E402

WIDTH, HEIGHT = 640, 480
MARK_START = "<!-- bench_models: start -->"
MARK_END = "<!-- bench_models: end -->"
WAIT = {"Delay": 1, "MaxAttempts": 3600}


def photo(
    rng: random.Random, shapes: list[str]
) -> tuple[bytes, list[tuple[str, int, int, int, int]]]:
    """A 640x480 JPEG: a square scene of `shapes` (480 px) at a random place, noise around; the
    boxes as (label, left, top, width, height) pixels."""
    drawn = draw(rng, shapes, size=HEIGHT)
    canvas = Image.new("RGB", (WIDTH, HEIGHT), tuple(rng.randrange(256) for _ in range(3)))
    left = rng.randrange(WIDTH - HEIGHT + 1)
    canvas.paste(drawn.image, (left, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=90)
    boxes = [
        (shape, round(x0) + left, round(y0), round(x1 - x0), round(y1 - y0))
        for shape, (x0, y0, x1, y1) in drawn.shapes
    ]
    return buffer.getvalue(), boxes


class Bench:
    def __init__(self, root: Path) -> None:
        self.buckets = root / "buckets"
        (self.buckets / "images").mkdir(parents=True)
        (self.buckets / "out").mkdir()
        self.server = ServerProcess(root / "data", ["--local-buckets", str(self.buckets)]).start()
        self.client = self.server.client()

    def put(self, name: str, data: bytes) -> str:
        path = self.buckets / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return f"s3://images/{name}"

    def project(self, train: list[dict[str, Any]], test: list[dict[str, Any]]) -> str:
        arn = self.client.create_project(ProjectName=f"b-{uuid.uuid4().hex[:8]}")["ProjectArn"]
        for kind, lines in (("TRAIN", train), ("TEST", test)):
            dataset = self.client.create_dataset(ProjectArn=arn, DatasetType=kind)["DatasetArn"]
            body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
            for start in range(0, len(body), 4 * 1024 * 1024):  # under the 5 MiB of a change
                end = body.rfind(b"\n", 0, start + 4 * 1024 * 1024) + 1 or len(body)
                self.client.update_dataset_entries(
                    DatasetArn=dataset, Changes={"GroundTruth": body[start:end]}
                )
                while (
                    self.client.describe_dataset(DatasetArn=dataset)["DatasetDescription"]["Status"]
                    == "UPDATE_IN_PROGRESS"
                ):
                    time.sleep(0.05)
        return str(arn)

    def train(self, project: str) -> tuple[float, dict[str, Any], dict[str, Any]]:
        """(seconds to TRAINING_COMPLETED, the description, the summary file)."""
        started = time.perf_counter()
        version = self.client.create_project_version(
            ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": "out"}
        )["ProjectVersionArn"]
        self.client.get_waiter("project_version_training_completed").wait(
            ProjectArn=project, VersionNames=["v1"], WaiterConfig=WAIT
        )
        elapsed = time.perf_counter() - started
        (described,) = self.client.describe_project_versions(
            ProjectArn=project, VersionNames=["v1"]
        )["ProjectVersionDescriptions"]
        assert described["ProjectVersionArn"] == version
        name = described["EvaluationResult"]["Summary"]["S3Object"]["Name"]
        summary = json.loads((self.buckets / "out" / name).read_bytes())
        return elapsed, described, summary

    def latency(self, project: str, described: dict[str, Any], images: list[bytes]) -> dict:
        arn = described["ProjectVersionArn"]
        self.client.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1)
        self.client.get_waiter("project_version_running").wait(
            ProjectArn=project, VersionNames=["v1"], WaiterConfig=WAIT
        )
        for image in images[:5]:  # the first loads the model
            self.client.detect_custom_labels(ProjectVersionArn=arn, Image={"Bytes": image})
        times = []
        for image in images:
            started = time.perf_counter()
            self.client.detect_custom_labels(ProjectVersionArn=arn, Image={"Bytes": image})
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        self.client.stop_project_version(ProjectVersionArn=arn)
        return {
            "p50_ms": statistics.median(times),
            "p99_ms": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))],
        }

    def measure(
        self, train: list[dict[str, Any]], test: list[dict[str, Any]], images: list[bytes]
    ) -> dict[str, Any]:
        """Train a project of these lines; its figures, and DetectCustomLabels' latency on
        `images` (none: not measured)."""
        project = self.project(train, test)
        seconds, described, summary = self.train(project)
        return {
            "train_images": len(train),
            "test_images": len(test),
            "seconds": seconds,
            "images_per_s": len(train) / seconds,
            "f1": described["EvaluationResult"]["F1Score"],
            "map": summary["AggregatedEvaluationResults"].get("AveragePrecision"),
            "detect": self.latency(project, described, images) if images else None,
        }

    def stop(self) -> None:
        self.server.stop()


def classification(bench: Bench, count: int, calls: int) -> dict[str, Any]:
    rng = random.Random(1)
    train = [
        image_line(bench.put(f"c/train-{n}.jpg", photo(rng, [shape])[0]), shape)
        for n in range(count)
        for shape in [SHAPES[n % 3]]
    ]
    test = [
        image_line(bench.put(f"c/test-{n}.jpg", photo(rng, [shape])[0]), shape)
        for n in range(count // 4)
        for shape in [SHAPES[n % 3]]
    ]
    images = [photo(rng, [SHAPES[n % 3]])[0] for n in range(calls)]
    return bench.measure(train, test, images)


def detection(bench: Bench, count: int, calls: int) -> dict[str, Any]:
    rng = random.Random(2)

    def scene(name: str) -> dict[str, Any]:
        data, boxes = photo(rng, rng.sample(SHAPES, rng.randint(1, 3)))
        return box_line(bench.put(name, data), boxes, (WIDTH, HEIGHT))

    train = [scene(f"d/train-{n}.jpg") for n in range(count)]
    test = [scene(f"d/test-{n}.jpg") for n in range(count // 4)]
    images = [photo(rng, rng.sample(SHAPES, 2))[0] for _ in range(calls)]
    return bench.measure(train, test, images)


def digits(bench: Bench) -> dict[str, Any] | None:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    data = load_digits()
    order = list(range(len(data.images)))
    random.Random(3).shuffle(order)

    def line(index: int, where: str) -> dict[str, Any]:
        pixels = (data.images[index] * (255 / 16)).astype("uint8")
        image = Image.fromarray(pixels, "L").resize((64, 64), Image.Resampling.NEAREST)
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        ref = bench.put(f"digits/{where}-{index}.png", buffer.getvalue())
        return image_line(ref, str(int(data.target[index])))

    train = [line(i, "train") for i in order[:1000]]
    test = [line(i, "test") for i in order[1000:1500]]
    return bench.measure(train, test, [])


def table(results: dict[str, Any]) -> str:
    rows = ["| figure | measured | target | met |", "|---|---|---|---|"]

    def row(what: str, value: str, target: str, met: bool | None) -> None:
        rows.append(
            f"| {what} | {value} | {target} | {'' if met is None else '✅' if met else '❌'} |"
        )

    c, d = results["classification"], results["detection"]
    row(
        f"classification: training on {c['train_images']} images ({c['test_images']} test), "
        "call to TRAINING_COMPLETED",
        f"{c['seconds']:.1f} s ({c['images_per_s']:.1f} images/s)",
        "≤ 300 s",
        c["seconds"] <= 300,
    )
    row(
        "classification: F1 on the test images (generated shapes)",
        f"{c['f1']:.3f}",
        "≥ 0.9",
        c["f1"] >= 0.9,
    )
    row(
        "classification: DetectCustomLabels, 640x480 JPEG, p50 (p99)",
        f"{c['detect']['p50_ms']:.0f} ms ({c['detect']['p99_ms']:.0f} ms)",
        "≤ 100 ms",
        c["detect"]["p50_ms"] <= 100,
    )
    row(
        f"detection: training on {d['train_images']} images ({d['test_images']} test)",
        f"{d['seconds']:.1f} s ({d['images_per_s']:.1f} images/s)",
        "",
        None,
    )
    row(
        "detection: F1 at IoU 0.5 (mAP)", f"{d['f1']:.3f} ({d['map']:.3f})", "≥ 0.8", d["f1"] >= 0.8
    )
    row(
        "detection: DetectCustomLabels, 640x480 JPEG, p50 (p99)",
        f"{d['detect']['p50_ms']:.0f} ms ({d['detect']['p99_ms']:.0f} ms)",
        "≤ 400 ms",
        d["detect"]["p50_ms"] <= 400,
    )
    g = results.get("digits")
    if g is None:
        row(
            "digits (scikit-learn's UCI handwritten digits)",
            "not measured: scikit-learn is not installed (`pip install -e '.[models-bench]'`)",
            "",
            None,
        )
    else:
        row(
            f"digits (UCI, scikit-learn): {g['train_images']} to train, {g['test_images']} "
            "to test, 10 labels: time (F1)",
            f"{g['seconds']:.1f} s (F1 {g['f1']:.3f})",
            "",
            None,
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    options = parser.parse_args()
    count, calls = (60, 20) if options.quick else (200, 50)
    with tempfile.TemporaryDirectory(prefix="manifestdb-bench-models-") as scratch:
        bench = Bench(Path(scratch))
        try:
            results: dict[str, Any] = {
                "machine": (
                    f"{platform.machine()}, {os.cpu_count()} cores, "
                    f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
                    f"{platform.platform()}"
                ),
                "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "command": "make bench-models" + (" (--quick)" if options.quick else ""),
                "classification": classification(bench, count, calls),
                "detection": detection(bench, count, calls),
                "digits": digits(bench),
            }
        finally:
            bench.stop()
    text = table(results)
    print(text)
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    (out / f"models-{'quick' if options.quick else 'full'}.json").write_text(
        json.dumps(results, indent=2)
    )
    if not options.no_docs:
        docs = ROOT / "docs" / "models.md"
        page = docs.read_text()
        head, _, rest = page.partition(MARK_START)
        _, _, tail = rest.partition(MARK_END)
        block = (
            f"{MARK_START}\n{results['command']}, {results['when']}, on {results['machine']}:\n\n"
            f"{text}\n{MARK_END}"
        )
        docs.write_text(head + block + tail)


if __name__ == "__main__":
    main()
