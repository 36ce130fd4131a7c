"""Measures the manifest engine alone: lines/s of ChangeReader on a seeded ~5 MiB change.

The lines are those of the suite (bench/data.py: 5% unlabeled, half image-level, half boxes, ~1%
with an error). A micro-benchmark for profiling the engine; `bench/run.py` measures the
`manifestdb validate` command itself. Run: `.venv/bin/python bench/bench_validate.py [--mib 5]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data
from manifestdb.manifest import ChangeReader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    change = data.change(3, 0, 0, max_bytes=int(args.mib * 2**20)).payload
    timings = []
    reader = ChangeReader()
    for _ in range(args.runs):
        reader = ChangeReader()
        start = time.perf_counter()
        for _entry in reader.read([change]):
            pass
        timings.append(time.perf_counter() - start)
        if reader.terminal() is not None:
            raise SystemExit(f"unexpected terminal outcome: {reader.terminal()}")
    best, median = min(timings), statistics.median(timings)
    lines = reader.lines_read
    print(
        f"{len(change) / 2**20:.2f} MiB, {lines} lines, {len(change) / lines:.0f} bytes/line, "
        f"{reader.entries_with_errors} with errors"
    )
    print(
        f"ChangeReader: median {median * 1000:.1f} ms = {lines / median:,.0f} lines/s"
        f" (best {lines / best:,.0f} lines/s)"
    )


if __name__ == "__main__":
    main()
