"""What the console's tests share: a local bucket of real images (JPEGs with EXIF orientation, a
PNG, a file that is no image, a missing key), Ground Truth lines for them, and Debian's Chromium
driven by Playwright."""

from __future__ import annotations

import json
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

BUCKET = "imgs"
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = (
    "The console tests drive Debian's Chromium at /usr/bin/chromium, which is not installed. "
    "Install it with: sudo apt-get update && sudo apt-get install -y chromium"
)
META = {"human-annotated": "yes", "creation-date": "2024-01-01T00:00:00", "job-name": "j"}


def detection(
    source_ref: str, size: tuple[int, int], boxes: list[tuple[int, ...]], names: dict[int, str]
) -> dict[str, Any]:
    """A Ground Truth object-detection line; each box is (class_id, left, top, width, height)."""
    return {
        "source-ref": source_ref,
        "bbox": {
            "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
            "annotations": [
                {"class_id": c, "left": x, "top": y, "width": w, "height": h}
                for c, x, y, w, h in boxes
            ],
        },
        "bbox-metadata": {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": {str(c): name for c, name in names.items()},
            "type": "groundtruth/object-detection",
            **META,
        },
    }


def classification(source_ref: str, label: str) -> dict[str, Any]:
    return {
        "source-ref": source_ref,
        "kind": 0,
        "kind-metadata": {
            "class-name": label,
            "confidence": 1,
            "type": "groundtruth/image-classification",
            **META,
        },
    }


def ref(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


def make_bucket(root: Path) -> Path:
    """Images under root/imgs/: a.jpg (640x480), rotated.jpg (stored 640x480 with EXIF
    orientation 6, so 480x640 upright), flower.png (300x200), notes.jpg (text), no missing.jpg."""
    bucket = root / BUCKET
    bucket.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (640, 480), (96, 125, 139))
    draw = ImageDraw.Draw(image)
    draw.rectangle((100, 100, 300, 300), fill=(230, 200, 120))
    draw.ellipse((360, 60, 560, 210), fill=(120, 180, 120))
    image.save(bucket / "a.jpg", quality=90)
    rotated = Image.new("RGB", (640, 480), (150, 110, 90))
    ImageDraw.Draw(rotated).rectangle((0, 0, 100, 480), fill=(250, 250, 250))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    rotated.save(bucket / "rotated.jpg", exif=exif)
    png = Image.new("RGBA", (300, 200), (200, 60, 90, 255))
    ImageDraw.Draw(png).rectangle((50, 50, 250, 150), fill=(255, 255, 255, 128))
    png.save(bucket / "flower.png")
    (bucket / "notes.jpg").write_text("these are notes, not an image\n")
    (root / "secret.txt").write_text("outside every bucket\n")
    return bucket


def sample_lines() -> list[dict[str, Any]]:
    """One line per kind of entry the pages must show."""
    return [
        detection(
            ref("a.jpg"),
            (640, 480),
            [(0, 100, 100, 200, 200), (1, 360, 60, 200, 150)],
            {0: "dog", 1: "cat"},
        ),
        detection(ref("rotated.jpg"), (480, 640), [(0, 20, 30, 200, 300)], {0: "dog"}),
        classification(ref("flower.png"), "flower"),
        # A box of 1x1 pixel is too small: an error on the annotation, the entry has errors.
        detection(ref("notes.jpg"), (640, 480), [(1, 10, 10, 1, 1)], {1: "cat"}),
        classification(ref("missing.jpg"), "flower"),
        {"source-ref": ref("unlabeled.jpg")},
    ]


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def gallery_path(dataset_arn: str, **filters: Any) -> str:
    query = urllib.parse.urlencode(filters, doseq=True)
    return f"/console/datasets/{urllib.parse.quote(dataset_arn, safe='')}" + (
        f"?{query}" if query else ""
    )


def image_path(dataset_arn: str, kind: str, source_ref: str) -> str:
    return (
        f"/console/images/{urllib.parse.quote(dataset_arn, safe='')}/{kind}?"
        + urllib.parse.urlencode({"source-ref": source_ref})
    )


def chromium_path() -> str:
    """Debian's Chromium, or a failure that says how to install it (never a skip)."""
    found = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if not found:
        raise AssertionError(INSTALL_HINT)
    return str(found)
