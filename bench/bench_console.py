"""The console's figures, on the server of the read phase (N entries): a gallery page's data for
every filter of the suite, a thumbnail from the cache and a first one, and, in Chromium, a filter
change until the grid is drawn.

Images: real 640 x 480 JPEGs written into the local bucket for the first `IMAGES` entries (what
the unfiltered gallery shows first); the entries of other pages get the placeholder of a missing
image, served by the same route. A first thumbnail is measured on freshly written files (a new
modification time is a new cache key), so a cache left by an earlier run does not serve it.
"""

from __future__ import annotations

import io
import random
import shutil
import statistics
import time
import urllib.parse
from pathlib import Path
from typing import Any

import urllib3

import data

IMAGES = 300  # entries 0..IMAGES-1 get a real JPEG
FIRST_SAMPLES = 20  # first thumbnails timed, each of its own fresh image
CACHED_SAMPLES = 200
PAGE_SAMPLES = 30  # gallery pages timed per filter (after 3 untimed)
BROWSER_CHANGES = 6  # filter changes timed in Chromium (on, off, ...)
CHROMIUM = "/usr/bin/chromium"
CLICK_AND_WAIT = """(box) => new Promise((resolve) => {
  const main = document.getElementById("main");
  const started = performance.now();
  const loaded = () => [...main.querySelectorAll("img")].every((image) => image.complete);
  const finish = () => {
    if (loaded()) resolve(performance.now() - started);
    else requestAnimationFrame(finish);
  };
  const observer = new MutationObserver(() => {
    if (main.getAttribute("aria-busy") === "false") { observer.disconnect(); finish(); }
  });
  observer.observe(main, { attributes: true, attributeFilter: ["aria-busy"] });
  box.click();
})"""


def write_jpeg(path: Path, seed: int) -> None:
    """A 640 x 480 JPEG with some structure (a flat image would compress to nothing)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (640, 480), (rng.randrange(256), rng.randrange(256), 90))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(600), rng.randrange(440)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x, y, x + rng.randrange(20, 200), y + rng.randrange(20, 200)), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def image_path(bucket_dir: Path, index: int) -> Path:
    key = data.source_ref(index).split("/", 3)[3]
    return bucket_dir / key


def prepare_images(bucket_dir: Path) -> None:
    for index in range(IMAGES):
        path = image_path(bucket_dir, index)
        if not path.exists():
            write_jpeg(path, index)


def _timed(http: urllib3.PoolManager, url: str, headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    response = http.request("GET", url, headers=headers or {}, retries=False)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status not in (200, 304):
        raise RuntimeError(f"GET {url} answered {response.status}: {response.data[:300]!r}")
    return elapsed


def _stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[max(0, round(0.99 * len(ordered)) - 1)],
        "max_ms": ordered[-1],
        "count": len(ordered),
    }


def gallery_pages(url: str, arn: str, queries: list[tuple[str, str, dict[str, Any]]]) -> dict:
    """The gallery's data call (ListDatasetEntries through the console, 100 entries) per filter."""
    http = urllib3.PoolManager(maxsize=1)
    found: dict[str, Any] = {}
    base = f"{url}/console/api/datasets/{urllib.parse.quote(arn, safe='')}/entries"
    for key, what, filters in queries:
        query = []
        for name, value in filters.items():
            for item in value if isinstance(value, list) else [value]:
                text = str(item).lower() if isinstance(item, bool) else str(item)
                query.append((name, text))
        target = base + ("?" + urllib.parse.urlencode(query) if query else "")
        for _ in range(3):
            _timed(http, target)
        times = [_timed(http, target) for _ in range(PAGE_SAMPLES)]
        found[key] = {"what": what, **_stats(times)}
    return found


def thumbnails(url: str, arn: str, bucket_dir: Path) -> dict[str, Any]:
    http = urllib3.PoolManager(maxsize=1)
    base = f"{url}/console/images/{urllib.parse.quote(arn, safe='')}/thumbnail?source-ref="
    first = []
    for sample in range(FIRST_SAMPLES):
        index = IMAGES - 1 - sample
        write_jpeg(image_path(bucket_dir, index), index + 7919 * int(time.time()))  # a new key
        first.append(_timed(http, base + urllib.parse.quote(data.source_ref(index))))
    cached_ref = urllib.parse.quote(data.source_ref(0))
    _timed(http, base + cached_ref)
    cached = [_timed(http, base + cached_ref) for _ in range(CACHED_SAMPLES)]
    return {"first": _stats(first), "cached": _stats(cached)}


def browser_filter_change(url: str, arn: str) -> dict[str, Any]:
    """In Chromium: from a click on a label filter until the new grid is drawn (aria-busy false),
    thumbnails already in the browser's cache (each view is drawn once untimed first)."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        raise RuntimeError(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    gallery = f"{url}/console/datasets/{urllib.parse.quote(arn, safe='')}"
    drawn = "#main[aria-busy=false] #count:not(:empty)"
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)  # a broken page fails the phase, never hangs it
            page.goto(gallery)
            page.wait_for_selector(drawn)
            box = page.get_by_label("label-07")  # its name holds its counts too
            for _ in range(2):  # both views once, so their thumbnails are cached
                box.click()
                page.wait_for_selector(drawn)
            for _ in range(BROWSER_CHANGES):
                # Timed in the page: from the click until the view is drawn (aria-busy false)
                # and every image of it has loaded.
                elapsed = box.evaluate(CLICK_AND_WAIT)
                times.append(float(elapsed))
        finally:
            browser.close()
    return _stats(times)
