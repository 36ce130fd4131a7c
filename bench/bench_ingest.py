"""Sustained ingest (issue 20): changes back to back, and `manifestdb push` end to end.

Back to back: each change is sent as soon as the previous one shows UPDATE_COMPLETE, without the
quiet wait of the single-change figures (the previous change's WAL checkpoint or index merge
may still run). After `warm` such changes, the next ones are timed.

Push: `manifestdb push` as a user runs it (a subprocess of this Python, boto3 against the
server), timed from start to exit, with the server's peak RSS (server and engine helper). Its
per-change progress lines on standard error, stamped as they arrive, give the throughput against
the dataset's size.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from server import BenchError, Client, RssSampler, Server

import data

# `manifestdb push`'s progress line when standard error is not a terminal (commands/pushview.py).
PROGRESS = re.compile(rb"^change (\d+): lines (\d+)-(\d+) \(([\d,]+) lines")
PUSH_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def changes(existing: int, count: int, slot: int) -> list[data.Change]:
    """`count` 5 MiB changes for a dataset of `existing` entries, half new lines (indexes of their
    own, far from any other figure's), half replacing."""
    base = data.NEW_INDEX_BASE + 50_000_000 + slot * 5_000_000
    return [data.change(7000 + 100 * slot + k, existing, base + k * 20_000) for k in range(count)]


def back_to_back(
    server: Server, client: Client, arn: str, sent: list[data.Change], warm: int, timed_update: Any
) -> dict[str, Any]:
    """The changes one after the other, none waiting for the server to be quiet; the runs after
    the first `warm` are the figure."""
    runs = [timed_update(server, client, arn, change, change.new, settle=False) for change in sent]
    return {"warm": warm, "runs": runs[warm:], "warm_runs_s": [r["seconds"] for r in runs[:warm]]}


def mixed_manifest(cache: Path, existing: int, count: int, seed: int = 9) -> Path:
    """A `count`-line manifest for a dataset of entries 0..existing-1: alternately a line replacing
    a distinct random entry and a new line (indexes from `NEW_INDEX_BASE + 80,000,000`)."""
    path = cache / f"mixed-s{seed}-{existing}-{count}.jsonl"
    if path.exists():
        return path
    rng = random.Random(seed)
    content = random.Random(seed + 1)
    replacing = rng.sample(range(existing), min(existing, count // 2))
    new_base = data.NEW_INDEX_BASE + 80_000_000

    def texts() -> Iterator[bytes]:
        for number in range(count):
            half = number // 2
            index = replacing[half] if number % 2 and half < len(replacing) else new_base + number
            yield data.line(content, index)

    return data.write_manifest(path, texts())


def push(
    server: Server,
    arn: str,
    manifest: Path,
    lines: int,
    entries_before: int,
    growth: float,
    workers: Sequence[int] = (),
) -> dict[str, Any]:
    """`manifestdb push MANIFEST` into the dataset, timed to its exit; raises BenchError unless
    it exits 0 having sent every line. `growth`: the entries a line adds (1: all new).
    `workers`: the pids of the `manifestdb worker` processes applying the jobs; `peak_rss` is
    the largest peak of one process (with its engine helper), the server's or a worker's."""
    command = [
        sys.executable,
        "-m",
        "manifestdb.cli",
        "push",
        str(manifest),
        "--dataset-arn",
        arn,
        "--endpoint-url",
        server.url,
    ]
    env = {**os.environ, **PUSH_ENV}
    stamps: list[tuple[float, int]] = []  # (seconds since start, lines of the change)
    errors: list[bytes] = []
    samplers = [RssSampler(pid) for pid in (server.pid, *workers)]
    with contextlib.ExitStack() as sampling:
        for sampler in samplers:
            sampling.enter_context(sampler)
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert process.stderr is not None and process.stdout is not None
        out: list[bytes] = []
        reader = threading.Thread(target=lambda: out.append(process.stdout.read()), daemon=True)
        reader.start()
        for raw in process.stderr:
            found = PROGRESS.match(raw)
            if found:
                stamps.append((time.perf_counter() - started, int(found[4].replace(b",", b""))))
            else:
                errors.append(raw)
        code = process.wait(timeout=3600)
        seconds = time.perf_counter() - started
        reader.join()
    summary = b"".join(out).decode()
    if code != 0:
        raise BenchError(f"push exited {code}: {b''.join(errors).decode()[-600:]}{summary[-300:]}")
    sent = sum(count for _, count in stamps)
    if sent != lines:
        raise BenchError(f"push sent {sent:,} lines of {lines:,}: {summary[-300:]}")
    return {
        "lines": lines,
        "seconds": seconds,
        "lines_per_s": lines / seconds,
        "changes": len(stamps),
        "peak_rss": max(sampler.peak for sampler in samplers),
        "curve": curve(stamps, entries_before, growth),
        "summary": summary,
    }


def curve(
    stamps: list[tuple[float, int]], entries_before: int, growth: float, window: int = 5
) -> list[tuple[float, float]]:
    """Push throughput against the dataset's size: (entries before, lines/s) over windows of
    `window` changes, from the progress lines' arrival times."""
    points = []
    size = float(entries_before)
    times = [0.0] + [stamp for stamp, _ in stamps]
    counts = [count for _, count in stamps]
    for start in range(0, len(counts), window):
        stop = min(start + window, len(counts))
        lines = sum(counts[start:stop])
        elapsed = times[stop] - times[start]
        if elapsed > 0:
            points.append((size, lines / elapsed))
        size += lines * growth
    return points
